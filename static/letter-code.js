// The welcome letter's QR code opens /letter-code#K7PM-3QXD. The part after "#"
// never leaves the phone, so the code is in no server's log. Put it in the field,
// then take it out of the address bar and the history.
(function () {
  var code = decodeURIComponent(window.location.hash.replace(/^#/, "")).trim();
  var field = document.getElementById("code");
  if (!code || !field) {
    return;
  }
  if (/^[A-Za-z0-9 -]{4,20}$/.test(code)) {
    field.value = code.toUpperCase();
  }
  history.replaceState(null, "", window.location.pathname);
  var button = field.form && field.form.querySelector("button[type=submit]");
  if (button) {
    button.focus();
  }
})();
