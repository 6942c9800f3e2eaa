import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderTemplate } from './template.ts';

test('placeholders are escaped for the body they land in', () => {
  const v = { output: `a&b=c "d" <e> 'f'\n`, n: 3 };
  const table: Array<[string, Parameters<typeof renderTemplate>[2], string]> = [
    ['text={{output}}&n={{n}}', 'form', 'text=a%26b%3Dc%20%22d%22%20%3Ce%3E%20\'f\'%0A&n=3'],
    ['{"text":"{{ output }}"}', 'json', '{"text":"a&b=c \\"d\\" <e> \'f\'\\n"}'],
    ['<t>{{output}}</t>', 'xml', '<t>a&amp;b=c &quot;d&quot; &lt;e&gt; &apos;f&apos;\n</t>'],
    ['{{output}}', 'text', v.output],
    ['[{{missing}}]', 'text', '[]'],
  ];
  for (const [tpl, how, want] of table) assert.equal(renderTemplate(tpl, v, how), want, `${how}: ${tpl}`);
  assert.deepEqual(JSON.parse(renderTemplate('{"text":"{{output}}"}', v, 'json')), { text: v.output });
});
