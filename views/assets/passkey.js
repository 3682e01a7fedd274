// Passkeys, as progressive enhancement: a form marked data-passkey stays hidden unless this
// browser can run WebAuthn. On submit it fetches the ceremony's options from
// data-options-url, lets the browser's authenticator answer, and posts the answer with the form.
(function () {
  const webauthn = window.SimpleWebAuthnBrowser;
  if (!webauthn || !webauthn.browserSupportsWebAuthn()) return;
  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    form.hidden = false;
    const error = form.querySelector('[data-passkey-error]');
    form.addEventListener('submit', async function (event) {
      if (form.dataset.ready === 'true') return;
      event.preventDefault();
      if (error) error.hidden = true;
      try {
        const res = await fetch(form.dataset.optionsUrl, { credentials: 'same-origin', headers: { accept: 'application/json' } });
        if (!res.ok) throw new Error('options');
        const optionsJSON = await res.json();
        const answer = form.dataset.passkey === 'register'
          ? await webauthn.startRegistration({ optionsJSON: optionsJSON })
          : await webauthn.startAuthentication({ optionsJSON: optionsJSON });
        form.querySelector('input[name="response"]').value = JSON.stringify(answer);
        form.dataset.ready = 'true';
        form.requestSubmit();
      } catch (err) {
        if (error) error.hidden = false;
      }
    });
  });
})();
