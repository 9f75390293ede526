// The borrower's signing page (served by the server at /sign/<token>, outside the app
// shell). Its texts come from the page's data-msg-* attributes, so this file holds no
// user-visible words. Draws the signature with the vendored signature_pad (pointer
// events), sends the ticked consents, the PNG and the optional typed name.
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

document.getElementById('clear').addEventListener('click', () => {
  pad.clear();
  say('', true);
});

submit.addEventListener('click', async () => {
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
