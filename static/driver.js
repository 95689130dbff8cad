// The driver's page, enhanced: a tap is kept in localStorage until the server
// has it, so a few minutes without signal lose nothing. Each tap carries its
// own key, so sending it twice records it once. Without this script every tap
// is a plain form post.
(function () {
  "use strict";
  var QUEUE = "velfaerd.driver.taps";
  var GIVE_UP_MS = 10 * 60 * 1000; // after this the page says plainly it did not send
  var box = document.getElementById("driver-queue");
  var lang = document.documentElement.lang || "da";
  var words = lang === "da" ? {
    waiting: function (n) { return n === 1 ? "1 tryk er ikke sendt endnu. Det sendes, når der er forbindelse." : n + " tryk er ikke sendt endnu. De sendes, når der er forbindelse."; },
    failed: function (n) { return "IKKE SENDT: " + n + " tryk kunne ikke sendes i 10 minutter. Ring til køkkenet."; },
    refused: "Ikke gemt: "
  } : {
    waiting: function (n) { return n === 1 ? "1 tap is not sent yet. It is sent when the connection returns." : n + " taps are not sent yet. They are sent when the connection returns."; },
    failed: function (n) { return "NOT SENT: " + n + " taps could not be sent for 10 minutes. Call the kitchen."; },
    refused: "Not saved: "
  };

  function load() {
    try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; }
  }
  function save(queue) { localStorage.setItem(QUEUE, JSON.stringify(queue)); }

  function show(message, kind) {
    box.textContent = message || "";
    box.className = "alert " + (kind || "alert-warn");
  }

  function markDone(tap, message) {
    var form = document.querySelector('form.driver-tap[data-stop="' + tap.stop + '"]');
    if (form) {
      var done = document.createElement("p");
      done.className = "stop-status";
      done.textContent = message;
      form.parentNode.classList.add("done");
      form.parentNode.replaceChild(done, form);
    }
  }

  function status() {
    var queue = load();
    if (!queue.length) { show(""); return; }
    var old = queue.filter(function (t) { return Date.now() - t.at > GIVE_UP_MS; });
    if (old.length) { show(words.failed(old.length), "alert-error"); box.setAttribute("role", "alert"); }
    else { show(words.waiting(queue.length)); }
  }

  function send(tap) {
    var body = new FormData();
    Object.keys(tap.fields).forEach(function (name) {
      tap.fields[name].forEach(function (value) { body.append(name, value); });
    });
    return fetch(tap.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  var flushing = false;
  function flush() {
    if (flushing) { return; }
    var queue = load();
    if (!queue.length) { status(); return; }
    flushing = true;
    var tap = queue[0];
    send(tap).then(function (answer) {
      var rest = load().filter(function (t) { return t.key !== tap.key; });
      save(rest);
      if (answer.data.ok) { markDone(tap, answer.data.message); show(answer.data.message, "alert-ok"); }
      else {
        show(words.refused + answer.data.error, "alert-error");
        var form = document.querySelector('form.driver-tap[data-stop="' + tap.stop + '"]');
        if (form) { form.querySelectorAll("button").forEach(function (b) { b.disabled = false; }); }
      }
      flushing = false;
      if (rest.length) { flush(); }
    }).catch(function () {
      flushing = false; // no connection: the tap stays in the queue
      status();
    });
  }

  document.querySelectorAll("form.driver-tap").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var fields = {};
      new FormData(form).forEach(function (value, name) {
        (fields[name] = fields[name] || []).push(value);
      });
      var button = event.submitter;
      if (button && button.name) { fields[button.name] = [button.value]; }
      var key = fields.idempotency_key[0] + "-" + (button ? button.value : "");
      fields.idempotency_key = [key];
      var queue = load();
      if (!queue.some(function (t) { return t.key === key; })) {
        queue.push({ key: key, action: form.action, stop: form.dataset.stop, fields: fields, at: Date.now() });
        save(queue);
      }
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      flush();
    });
  });

  window.addEventListener("online", flush);
  setInterval(flush, 15000);
  flush();
})();
