import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitState, parseOutput, parsePerfdata, pluginResult } from './parse.ts';
import type { PerfDatum } from '../result.ts';

test('perfdata items: labels, quoting, every UOM, missing fields', () => {
  const table: Array<[string, PerfDatum[], string[]?]> = [
    ['load1=2.390;5.000;10.000;0;', [{ label: 'load1', value: 2.39, uom: '', warn: '5.000', crit: '10.000', min: 0 }]],
    ['time=0.000576s;;;0.000000;10.000000', [{ label: 'time', value: 0.000576, uom: 's', min: 0, max: 10 }]],
    ['/=24197988352B;216442024755;243497277849;0;270552530944', [{ label: '/', value: 24197988352, uom: 'B', warn: '216442024755', crit: '243497277849', min: 0, max: 270552530944 }]],
    ["'/var lib'=12MB;;;0;100", [{ label: '/var lib', value: 12, uom: 'MB', min: 0, max: 100 }]],
    ["'it''s'=1", [{ label: "it's", value: 1, uom: '' }]],
    ["'a=b c'=5%;80;90", [{ label: 'a=b c', value: 5, uom: '%', warn: '80', crit: '90' }]],
    ["''''=1c", [{ label: "'", value: 1, uom: 'c' }]],
    ['rta=0.05ms;100.000;500.000;0; pl=0%;20;60;0;100', [
      { label: 'rta', value: 0.05, uom: 'ms', warn: '100.000', crit: '500.000', min: 0 },
      { label: 'pl', value: 0, uom: '%', warn: '20', crit: '60', min: 0, max: 100 },
    ]],
    ['a=1us b=2KB c=3GB d=4TB e=5c f=-1.5 g=+2 h=1e3s i=.5', [
      { label: 'a', value: 1, uom: 'us' }, { label: 'b', value: 2, uom: 'KB' }, { label: 'c', value: 3, uom: 'GB' },
      { label: 'd', value: 4, uom: 'TB' }, { label: 'e', value: 5, uom: 'c' }, { label: 'f', value: -1.5, uom: '' },
      { label: 'g', value: 2, uom: '' }, { label: 'h', value: 1000, uom: 's' }, { label: 'i', value: 0.5, uom: '' },
    ]],
    // monitoring-plugins 3.0 ranges
    ['swap=1024B;~:15;@10:20;0;2048', [{ label: 'swap', value: 1024, uom: 'B', warn: '~:15', crit: '@10:20', min: 0, max: 2048 }]],
    ['x=1;;', [{ label: 'x', value: 1, uom: '' }]],
    ['x=1;;;;', [{ label: 'x', value: 1, uom: '' }]],
    ['x=1;;;abc;def', [{ label: 'x', value: 1, uom: '' }]],
    ['  x=1   y=2  ', [{ label: 'x', value: 1, uom: '' }, { label: 'y', value: 2, uom: '' }]],
    // garbage: skipped, never thrown
    ['x=U;1;2', [], ['x=U;1;2']],
    ['x= y=3', [{ label: 'y', value: 3, uom: '' }], ['x=']],
    ['=5 novalue z=abc', [], ['=5', 'novalue', 'z=abc']],
    ["'unclosed=3 k=1", [{ label: 'k', value: 1, uom: '' }], ["'unclosed=3"]],
    ["'q'x=1 k=2", [{ label: 'k', value: 2, uom: '' }], ["'q'x=1"]],
    ['', []],
    [';;;;', [], [';;;;']],
  ];
  for (const [text, want, bad] of table) {
    const r = parsePerfdata(text);
    assert.deepEqual(r.perfdata, want, text);
    assert.deepEqual(r.bad, bad ?? [], `bad items of ${text}`);
  }
});

test('output: summary, long output and perfdata from 2.x and 3.0 plugins', () => {
  const table: Array<[string, string, string, string[]]> = [
    // [output, summary, long output, perfdata labels]
    ['PROCS OK: 89 processes | procs=89;;;0;\n', 'PROCS OK: 89 processes', '', ['procs']],
    ['LOAD OK - total load average: 2.39, 1.12, 0.68|load1=2.390;5.000;10.000;0; load5=1.120;4.000;6.000;0; load15=0.680;3.000;4.000;0; \n', 'LOAD OK - total load average: 2.39, 1.12, 0.68', '', ['load1', 'load5', 'load15']],
    ['connect to address 127.0.0.1 and port 1: Connection refused\nHTTP CRITICAL - Unable to open TCP socket\n', 'connect to address 127.0.0.1 and port 1: Connection refused', 'HTTP CRITICAL - Unable to open TCP socket', []],
    ['OK: hello', 'OK: hello', '', []],
    ['', '', '', []],
    ['no perfdata at all\n\n\n', 'no perfdata at all', '', []],
    // Nagios plugin API example: perfdata on line 1, on a later line, and after it
    ['DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n/home=69357MB;253404;253409;0;253414 \n/var/log=818MB;970;975;0;980\n',
      'DISK OK - free space: / 3326 MB (56%);', '/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%);', ['/', '/boot', '/home', '/var/log']],
    // monitoring-plugins 3.0 multi-line style
    ['[WARNING] - ok=1, warning=1, critical=0, unknown=0\n\\_[OK] - load1 is 0.5\n\\_[WARNING] - load5 is 4.2\n|load1=0.5;~:5;~:10;0; load5=4.2;~:4;~:6;0;\n',
      '[WARNING] - ok=1, warning=1, critical=0, unknown=0', '\\_[OK] - load1 is 0.5\n\\_[WARNING] - load5 is 4.2', ['load1', 'load5']],
    ['OK - Swap usage\n    \\_[OK] free: 100%\n|swap=2048B;~:15;~:10;0;2048', 'OK - Swap usage', '    \\_[OK] free: 100%', ['swap']],
    ['CRLF line\r\nlong\r\n', 'CRLF line', 'long', []],
    ['a | b | c=1', 'a', '', ['c']],
    ['|x=1', '', '', ['x']],
  ];
  for (const [out, summary, longOutput, labels] of table) {
    const r = parseOutput(out);
    assert.equal(r.summary, summary, JSON.stringify(out));
    assert.equal(r.longOutput, longOutput, JSON.stringify(out));
    assert.deepEqual(r.perfdata.map((p) => p.label), labels, JSON.stringify(out));
  }
});

test('exit codes 0-3 map to states; anything else is UNKNOWN with the reason', () => {
  const table: Array<[Parameters<typeof exitState>[0], string, RegExp?]> = [
    [{ code: 0 }, 'OK'], [{ code: 1 }, 'WARNING'], [{ code: 2 }, 'CRITICAL'], [{ code: 3 }, 'UNKNOWN'],
    [{ code: 4 }, 'UNKNOWN', /exited with code 4 \(not 0-3\)/],
    [{ code: 127 }, 'UNKNOWN', /code 127/],
    [{ code: -1 }, 'UNKNOWN', /code -1/],
    [{ code: null, signal: 'SIGSEGV' }, 'UNKNOWN', /killed by SIGSEGV/],
    [{ code: null, signal: 'SIGKILL', timedOut: true, timeoutMs: 2000 }, 'UNKNOWN', /timed out after 2s and was killed/],
    [{ code: null, spawnError: 'ENOENT' }, 'UNKNOWN', /could not be started: ENOENT/],
  ];
  for (const [exit, state, reason] of table) {
    const r = exitState(exit);
    assert.equal(r.state, state, JSON.stringify(exit));
    if (reason) assert.match(r.reason!, reason);
    else assert.equal(r.reason, undefined);
  }
});

test('pluginResult: the reason becomes the summary, the plugin line moves to long output; caps are noted', () => {
  const r = pluginResult('half a line', { code: null, signal: 'SIGKILL', timedOut: true, timeoutMs: 1500 }, 1000, 1502);
  assert.deepEqual(r, { state: 'UNKNOWN', code: 3, summary: 'plugin timed out after 1500ms and was killed', longOutput: 'half a line', perfdata: [], startedAt: 1000, durationMs: 1502 });
  const ok = pluginResult('OK: fine | x=1\nmore', { code: 0, truncatedBytes: 10 }, 0, 1);
  assert.equal(ok.state, 'OK');
  assert.equal(ok.summary, 'OK: fine');
  assert.equal(ok.longOutput, 'more\n(output capped: 10 more bytes dropped)');
  assert.equal(pluginResult('', { code: 0 }, 0, 1).summary, '(no output)');
});

test('garbage never throws', () => {
  const junk = ['\u0000\u0001|||', "'''''", '|'.repeat(1000), "a|'b'='c';;;;;;;;", '\n\n|\n|\n', 'x=1e999', '=;=;=', "''=1"];
  for (let i = 0; i < 500; i++) {
    let s = '';
    for (let j = 0; j < 40; j++) s += "ab'=;| \n1.%s"[(i * 7 + j * 13 + ((i * j) % 11)) % 13];
    junk.push(s);
  }
  for (const s of junk) {
    const r = parseOutput(s);
    assert.equal(typeof r.summary, 'string');
    for (const p of r.perfdata) assert.equal(typeof p.value, 'number');
  }
});
