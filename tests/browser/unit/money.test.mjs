// The money parsing of the UI (web-assets/money.js): amounts in fen, from what people type.
// Run: node --test tests/browser/unit/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWanToFen, parseYuanToFen, fenToWan } from '../../../web-assets/money.js';

test('a field takes its own unit when none is typed', () => {
  assert.equal(parseYuanToFen('80000'), 8000000);
  assert.equal(parseWanToFen('8'), 8000000);
  assert.equal(parseYuanToFen('1,234.56'), 123456);
  assert.equal(parseWanToFen('30.5'), 30500000);
  assert.equal(parseYuanToFen(''), null);
  assert.equal(parseYuanToFen('   '), null);
});

test('a unit typed after the number wins over the field', () => {
  assert.equal(parseYuanToFen('8\u4E07'), 8000000, '8 wan in a yuan field');
  assert.equal(parseYuanToFen('8 \u4E07\u5143'), 8000000);
  assert.equal(parseYuanToFen('8.5w'), 8500000);
  assert.equal(parseYuanToFen('8W'), 8000000);
  assert.equal(parseWanToFen('8000\u5143'), 800000, '8000 yuan in a wan field');
  assert.equal(parseYuanToFen('3000\u5143'), 300000);
});

test('full-width digits, point and comma are read', () => {
  assert.equal(parseYuanToFen('\uFF18\uFF10\uFF0C\uFF10\uFF10\uFF10'), 8000000);
  assert.equal(parseWanToFen('\uFF13\uFF0E\uFF15'), 3500000);
});

test('commas only where they group thousands; the ideographic point is a point', () => {
  assert.equal(parseYuanToFen('1,000,000.50'), 100000050);
  assert.equal(parseWanToFen('1,200\u4E07'), 1200000000);
  assert.equal(parseYuanToFen('3\u30025'), 350, 'the point a Chinese input method types');
  for (const bad of ['1,5\u4E07', '3,5', '1,000,00', '\uFF13\uFF0C\uFF15', ',100', '1,,000', '10,00.5']) {
    assert.equal(parseYuanToFen(bad), undefined, bad);
  }
});

test('what is not an amount is refused, not guessed', () => {
  for (const bad of ['abc', '8\u4E07\u4E07', '\u4E07', '8.123', '-5', '1e5', '8\u5343', '1.2.3']) {
    assert.equal(parseYuanToFen(bad), undefined, bad);
  }
  assert.equal(parseWanToFen('1.1234567'), undefined, 'below a fen');
});

test('fen show back as wan', () => {
  assert.equal(fenToWan(8000000), '8');
  assert.equal(fenToWan(30500000), '30.5');
});
