// The borrower's signing page (served by the server at /sign/<token>, outside the app
// shell). Its texts come from the page's data-msg-* attributes, so this file holds no
// user-visible words. When the page asks the borrower to prove who they are (#verify), the
// contract shows masked until their ID number (or phone) is checked by the server, which
// then sends the full text; the number goes with the signature too. Draws the signature with
// the vendored signature_pad (pointer events), sends the ticked consents, the PNG and the
// optional typed name.
import SignaturePad from '../vendor/signature_pad/signature_pad.module.js';

const main = document.querySelector('main');
const msg = document.getElementById('msg');
const canvas = document.getElementById('pad');
const submit = document.getElementById('submit');
const pad = new SignaturePad(canvas, { minWidth: 1, maxWidth: 2.8, penColor: '#111827' });

// A canvas sized in CSS pixels draws blurred on dense screens: size its bitmap to the
// device pixel ratio, keeping what was drawn.
function resize() {
  const ratio = Math.max(window.devicePixelRatio || 1, 1);
  const data = pad.toData();
  canvas.width = canvas.offsetWidth * ratio;
  canvas.height = canvas.offsetHeight * ratio;
  canvas.getContext('2d').scale(ratio, ratio);
  pad.clear();
  pad.fromData(data);
}
window.addEventListener('resize', resize);
resize();

function say(text, ok) {
  msg.textContent = text;
  msg.className = ok ? 'msg ok' : 'msg';
}

for (const box of document.querySelectorAll('input[data-key]')) {
  box.addEventListener('change', () => say('', true));
}

const verify = document.getElementById('verify');
let proven = verify ? null : '';

if (verify) {
  const input = document.getElementById('verify-input');
  const button = document.getElementById('verify-btn');
  const note = document.getElementById('verify-msg');
  const check = async () => {
    const typed = input.value.trim();
    if (!typed) {
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      const resp = await fetch(`${window.location.pathname}/open`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ verify: typed }),
      });
      const body = await resp.json().catch(() => ({}));
      if (resp.ok) {
        // The server's own rendering of this contract (the same HTML the page holds masked).
        document.querySelector('article.contract').innerHTML = body.content;
        document.getElementById('hash').textContent = body.content_sha256;
        proven = typed;
        verify.remove();
        say('', true);
        return;
      }
      note.textContent = (body.error && body.error.message) || main.dataset.msgFail;
    } catch {
      note.textContent = main.dataset.msgFail;
    }
    button.disabled = false;
  };
  button.addEventListener('click', check);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') check();
  });
}

document.getElementById('clear').addEventListener('click', () => {
  pad.clear();
  say('', true);
});

submit.addEventListener('click', async () => {
  if (proven === null) {
    say(main.dataset.msgVerify);
    document.getElementById('verify-input').focus();
    return;
  }
  const consents = {};
  let missing = null;
  for (const box of document.querySelectorAll('input[data-key]')) {
    consents[box.dataset.key] = box.checked;
    if (!box.checked && !missing) missing = box;
  }
  if (missing) {
    say(main.dataset.msgConsent);
    missing.focus();
    return;
  }
  if (pad.isEmpty()) {
    say(main.dataset.msgEmpty);
    return;
  }
  submit.disabled = true;
  say(main.dataset.msgSending, true);
  try {
    const resp = await fetch(window.location.pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        consents,
        signature_png: pad.toDataURL('image/png'),
        typed_name: document.getElementById('typed').value || null,
        verify: proven || null,
      }),
    });
    const body = await resp.json().catch(() => ({}));
    if (resp.ok) {
      main.replaceChildren();
      const done = document.createElement('section');
      done.className = 'notice';
      done.id = 'signed';
      const h = document.createElement('h1');
      h.textContent = main.dataset.msgDone;
      const p = document.createElement('p');
      p.textContent = main.dataset.msgDoneNote;
      done.append(h, p);
      main.append(done);
      window.scrollTo(0, 0);
      return;
    }
    say((body.error && body.error.message) || main.dataset.msgFail);
  } catch {
    say(main.dataset.msgFail);
  }
  submit.disabled = false;
});
