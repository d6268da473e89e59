// Copy buttons: <button data-copy="ID"> copies the value of the input with that id.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var input = document.getElementById(button.getAttribute("data-copy"));
  if (!input) return;
  input.select();
  var done = function () { button.setAttribute("data-copied", "1"); };
  if (navigator.clipboard) { navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); }); }
  else { document.execCommand("copy"); done(); }
});

// Copy buttons for code: <button data-copy-text="ID"> copies the text of the element with that id (a <code>).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy-text]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy-text"));
  if (!source) return;
  var done = function () { button.setAttribute("data-copied", "1"); };
  var select = function () {
    var range = document.createRange();
    range.selectNodeContents(source);
    var chosen = window.getSelection();
    chosen.removeAllRanges();
    chosen.addRange(range);
    document.execCommand("copy");
    done();
  };
  if (navigator.clipboard) { navigator.clipboard.writeText(source.textContent).then(done, select); }
  else { select(); }
});
