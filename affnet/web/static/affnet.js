/* affnet.js: keeps the network's click_id on your landing page.
 * <script src="https://NETWORK/static/affnet.js" data-cookie-days="60"></script>
 * Stores ?click_id=... in a first-party cookie (affnet_click_id) for the
 * offer's cookie window (data-cookie-days, default 60); a newer click wins.
 * affnet.clickId() returns it (or null), for your checkout's metadata. */
(function (w, d) {
  var el = d.currentScript, name = "affnet_click_id", valid = /^[A-Za-z0-9_-]{8,128}$/;
  var days = parseInt(el && el.getAttribute("data-cookie-days"), 10);
  if (!(days > 0)) days = 60;
  function stored() {
    var parts = ("; " + (d.cookie || "")).split("; " + name + "=");
    var value = parts.length > 1 ? parts.pop().split(";")[0] : "";
    return valid.test(value) ? value : null;
  }
  var match = /[?&]click_id=([^&#]*)/.exec(w.location.search || "");
  var fresh = "";
  try { fresh = match ? decodeURIComponent(match[1]) : ""; } catch (e) { /* a mangled link: ignore it */ }
  if (valid.test(fresh)) {
    d.cookie = name + "=" + fresh + "; Max-Age=" + days * 86400 + "; Path=/; SameSite=Lax" +
      (w.location.protocol === "https:" ? "; Secure" : "");
  }
  w.affnet = w.affnet || {};
  w.affnet.clickId = function () { return valid.test(fresh) ? fresh : stored(); };
})(window, document);
