// ipywidgets 8 typesets LaTeX in widget labels with the MathJax 2 call
// MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3, which has
// no Hub. This bridges that one call to MathJax 3's typesetPromise. Loaded with "defer" right
// after MathJax 3, so it runs once MathJax has replaced its configuration object.
(function () {
  "use strict";
  var mj = window.MathJax;
  if (!mj || mj.Hub) {
    return;
  }
  function typeset(args) {
    var element = args && args[2];
    var run = function () {
      return window.MathJax.typesetPromise(element ? [element] : undefined);
    };
    var ready = window.MathJax.startup && window.MathJax.startup.promise;
    (ready ? ready.then(run) : run()).catch(function (err) {
      console.error("MathJax typeset of a widget label failed:", err);
    });
  }
  mj.Hub = { Queue: typeset };
})();
