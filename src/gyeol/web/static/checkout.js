// Gyeol's checkout, better with JavaScript: validation as you type, one panel per method, the copy button.
// The page works without it: the server checks everything again. A failed Luhn check is a warning only,
// because the sandbox approves well-formed numbers that fail it.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  document.documentElement.classList.add("js");

  function digits(value) { return value.replace(/[\s-]/g, ""); }

  function luhnOk(number) {
    var sum = 0, double = false;
    for (var i = number.length - 1; i >= 0; i--) {
      var d = number.charCodeAt(i) - 48;
      if (double) { d *= 2; if (d > 9) { d -= 9; } }
      sum += d; double = !double;
    }
    return sum % 10 === 0;
  }

  function say(input, text, kind) {
    var slot = $(input.id + "-msg");
    if (slot) { slot.textContent = text || ""; slot.className = "msg" + (kind ? " " + kind : ""); }
    if (kind === "bad") { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
  }

  // Each check returns [message, kind]: kind "bad" blocks the form, "warn" does not.
  function checkNumber(form, value) {
    var n = digits(value);
    if (!/^\d{13,19}$/.test(n)) { return [form.dataset.msgInvalidNumber, "bad"]; }
    if (!luhnOk(n)) { return [form.dataset.msgLuhnWarning, "warn"]; }
    return ["", ""];
  }

  function checkExpiry(form, value) {
    var m = /^(\d{2})\s*\/?\s*(\d{2}|\d{4})$/.exec(value.trim());
    if (!m || +m[1] < 1 || +m[1] > 12) { return [form.dataset.msgInvalidExpiry, "bad"]; }
    var year = m[2].length === 2 ? 2000 + +m[2] : +m[2], now = new Date();
    if (year < now.getFullYear() || (year === now.getFullYear() && +m[1] < now.getMonth() + 1)) {
      return [form.dataset.msgPastExpiry, "bad"];
    }
    return ["", ""];
  }

  function checkCvc(form, value) {
    return /^\d{3,4}$/.test(value) ? ["", ""] : [form.dataset.msgInvalidCvc, "bad"];
  }

  function formatNumber(input) {
    var n = digits(input.value).replace(/\D/g, "").slice(0, 19);
    var grouped = n.replace(/(\d{4})(?=\d)/g, "$1 ");
    if (grouped !== input.value) { input.value = grouped; }
  }

  function formatExpiry(input, event) {
    var v = input.value.replace(/[^\d]/g, "").slice(0, 4);
    if (v.length >= 3 || (v.length === 2 && event && event.inputType !== "deleteContentBackward")) {
      v = v.slice(0, 2) + "/" + v.slice(2);
    }
    if (v !== input.value) { input.value = v; }
  }

  function setUpPayForm(form) {
    var radios = form.querySelectorAll('input[name="method"]');
    var chosen = function () {
      var c = form.querySelector('input[name="method"]:checked');
      return c ? c.value : "";
    };
    var showPanel = function () {
      var panels = form.querySelectorAll(".panel");
      for (var i = 0; i < panels.length; i++) { panels[i].hidden = panels[i].dataset.method !== chosen(); }
    };
    for (var i = 0; i < radios.length; i++) { radios[i].addEventListener("change", showPanel); }
    showPanel();

    var fields = [
      [$("card-number"), checkNumber, formatNumber],
      [$("card-expiry"), checkExpiry, formatExpiry],
      [$("card-cvc"), checkCvc, function (input) { input.value = input.value.replace(/\D/g, "").slice(0, 4); }],
    ];
    fields.forEach(function (f) {
      var input = f[0], check = f[1], format = f[2];
      if (!input) { return; }
      input.addEventListener("input", function (event) {
        format(input, event);
        var r = check(form, input.value);
        // While typing, only a warning or a cleared error is shown; a hard error waits for blur or submit.
        if (r[1] !== "bad") { say(input, r[0], r[1]); } else if (input.getAttribute("aria-invalid")) { say(input, r[0], "bad"); }
      });
      input.addEventListener("blur", function () {
        if (input.value) { var r = check(form, input.value); say(input, r[0], r[1]); }
      });
    });

    form.addEventListener("submit", function (event) {
      var method = chosen(), firstBad = null;
      if (method === "card") {
        fields.forEach(function (f) {
          if (!f[0]) { return; }
          var r = f[1](form, f[0].value);
          say(f[0], r[0], r[1]);
          if (r[1] === "bad" && !firstBad) { firstBad = f[0]; }
        });
      } else if (method === "transfer") {
        var bank = $("transfer-bank");
        if (bank && !bank.value) { firstBad = bank; }
        var box = $("error");
        if (bank && !bank.value && box) { box.textContent = form.dataset.msgBankRequired; box.className = "error"; }
      }
      if (firstBad) { event.preventDefault(); firstBad.focus(); return; }
      var button = $("pay-button");
      if (button) {
        button.setAttribute("aria-busy", "true");
        setTimeout(function () { button.disabled = true; }, 0);  // one charge attempt per click
      }
    });
  }

  function setUpCopy() {
    var button = $("va-copy"), section = $("va-section");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = $(button.dataset.copyTarget), msg = $("va-copy-msg");
      var text = target ? target.textContent.trim() : "";
      var done = function () { if (msg && section) { msg.textContent = section.dataset.msgVaCopied; } };
      var fallback = function () {
        // Outside a secure context there is no Clipboard API: select the number and ask the browser to copy.
        var range = document.createRange(), selection = window.getSelection();
        range.selectNodeContents(target); selection.removeAllRanges(); selection.addRange(range);
        try { if (document.execCommand("copy")) { done(); } } catch (e) { /* the number stays selected */ }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else if (target) {
        fallback();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = $("pay-form");
    if (form) { setUpPayForm(form); }
    setUpCopy();
    var error = $("error");
    if (error && error.textContent.trim()) { error.focus(); }
  });
})();
