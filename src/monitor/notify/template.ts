/**
 * `{{name}}` placeholders filled with values escaped for where they land: a form
 * body or URL (percent-encoding), a JSON string literal, XML text, or plain text.
 * A template never lets a value change the structure around it (a quote in the
 * check output cannot end a JSON string, an `&` cannot add a form field).
 */

export type Escaping = 'form' | 'url' | 'json' | 'xml' | 'text';

function escapeFor(v: string, how: Escaping): string {
  switch (how) {
    case 'form':
    case 'url':
      return encodeURIComponent(v);
    case 'json':
      // The content of a JSON string (the template supplies the quotes).
      return JSON.stringify(v).slice(1, -1).replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029');
    case 'xml':
      return v.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&apos;');
    case 'text':
      return v;
  }
}

/** Fills `{{name}}` (spaces allowed inside the braces); an unknown name becomes ''. */
export function renderTemplate(template: string, vars: Readonly<Record<string, string | number | undefined>>, how: Escaping): string {
  return template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, name: string) => {
    const v = vars[name];
    return v === undefined ? '' : escapeFor(String(v), how);
  });
}

/** Placeholder names a template uses (for validation and docs). */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)].map((m) => m[1]!);
}
