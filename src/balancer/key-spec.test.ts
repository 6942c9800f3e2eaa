import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashKeySpec, type HashKeySpec } from '../config/scheduler-schema.ts';
import { hashKeyOf, readArg, type HashKeySource } from './key-spec.ts';
import { readCookie } from './sticky.ts';

function spec(text: string): HashKeySpec {
  const r = hashKeySpec(text);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.spec;
}

const req: HashKeySource = {
  remoteAddr: '192.0.2.9',
  requestUri: '/shop/cart?id=42&Lang=fr&empty&x=',
  header: (name) => ({ host: 'shop.example', 'x-user-id': 'u-7', cookie: 'a=1; session=abc123; Theme="dark"' })[name],
};

describe('hashKeySpec', () => {
  const good: [string, string][] = [
    ['$remote_addr', '192.0.2.9'],
    ['$request_uri', '/shop/cart?id=42&Lang=fr&empty&x='],
    ['$uri', '/shop/cart'],
    ['$http_x_user_id', 'u-7'],
    ['$http_HOST', 'shop.example'],
    ['$cookie_session', 'abc123'],
    ['$cookie_theme', 'dark'],
    ['$arg_id', '42'],
    ['$arg_lang', 'fr'],
    ['$arg_empty', ''],
    ['$arg_missing', ''],
    ['$http_missing', ''],
    ['$http_host$uri', 'shop.example/shop/cart'],
    ['${http_host}x$uri', 'shop.examplex/shop/cart'],
    ['user:$cookie_session', 'user:abc123'],
  ];
  for (const [text, want] of good) it(`${text} → ${JSON.stringify(want)}`, () => assert.equal(hashKeyOf(spec(text), req), want));

  const bad: [string, RegExp][] = [
    ['', /at least one variable/],
    ['constant', /at least one variable/],
    ['$host', /unknown variable \$host/],
    ['$http_', /unknown variable/],
    ['$', /variable name/],
    ['${uri', /"}"/],
    ['$1abc', /variable name/],
  ];
  for (const [text, re] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      const r = hashKeySpec(text);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, re);
    });
  }

  it('uses the given $uri when the proxy normalised it', () => {
    assert.equal(hashKeyOf(spec('$uri'), { ...req, uri: '/shop/cart/' }), '/shop/cart/');
  });
});

describe('readArg / readCookie', () => {
  it('finds raw query arguments by name, case-insensitively', () => {
    assert.equal(readArg('/p?a=1&b=%20x', 'b'), '%20x');
    assert.equal(readArg('/p?A=1', 'a'), '1');
    assert.equal(readArg('/p?ab=1', 'a'), undefined);
    assert.equal(readArg('/p', 'a'), undefined);
    assert.equal(readArg('/p?a=1#frag', 'a'), '1');
  });
  it('finds cookies by exact name unless told to ignore case', () => {
    assert.equal(readCookie('x=1;y=2', 'y'), '2');
    assert.equal(readCookie(' x = 1 ; srv=abc', 'srv'), 'abc');
    assert.equal(readCookie('SRV=abc', 'srv'), undefined);
    assert.equal(readCookie('SRV=abc', 'srv', true), 'abc');
    assert.equal(readCookie(undefined, 'srv'), undefined);
    assert.equal(readCookie('novalue; srv=1', 'srv'), '1');
  });
});
