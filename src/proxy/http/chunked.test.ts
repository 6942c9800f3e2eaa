import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedError, ChunkedTracker } from './chunked.ts';

const limits = { maxLineLength: 64, maxTrailerSize: 256 };

function feedAll(text: string, splitEvery = 0): { end: number; data: string; done: boolean } {
  const t = new ChunkedTracker(limits);
  const buf = Buffer.from(text, 'latin1');
  let data = '';
  const sink = (b: Buffer, s: number, e: number) => (data += b.toString('latin1', s, e));
  let end = 0;
  if (splitEvery === 0) end = t.feed(buf, 0, buf.length, sink);
  else {
    for (let i = 0; i < buf.length && !t.done; i += splitEvery) {
      const piece = buf.subarray(i, Math.min(buf.length, i + splitEvery));
      end = i + t.feed(piece, 0, piece.length, sink);
    }
  }
  return { end, data, done: t.done };
}

test('chunked bodies are tracked to their exact end, in one piece or byte by byte', () => {
  const body = '5\r\nhello\r\n6;name=val\r\n world\r\n0\r\nTrailer: x\r\n\r\n';
  for (const split of [0, 1, 2, 7]) {
    const r = feedAll(`${body}NEXT`, split);
    assert.equal(r.done, true, `split ${split}`);
    assert.equal(r.end, body.length, `split ${split}`);
    assert.equal(r.data, 'hello world');
  }
});

test('upper-case hex and large chunks', () => {
  const data = 'x'.repeat(0x1ab);
  assert.equal(feedAll(`1AB\r\n${data}\r\n0\r\n\r\n`).data, data);
});

test('malformed framing is an error, never a guess', () => {
  const bad = [
    'zz\r\n',
    '5\r\nhelloXX0\r\n\r\n',
    '5\nhello\r\n',
    `${'f'.repeat(14)}\r\n`,
    `5;${'e'.repeat(100)}\r\n`,
    `0\r\n${'T: v\r\n'.repeat(60)}\r\n`,
    '0\r\nT: v\n\r\n',
  ];
  for (const b of bad) assert.throws(() => feedAll(b), ChunkedError, JSON.stringify(b));
});
