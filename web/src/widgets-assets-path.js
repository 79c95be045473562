// Tell the ipywidgets HTML manager (embed-amd.js) where its own files are. Its bundles compute
// where to fetch their fonts and chunks from the RequireJS URL of the module
// "@jupyter-widgets/html-manager/dist/...", which by default is a folder next to the page that
// does not exist in the built book. Map that module path to _static/html-manager/ instead.
// Loaded after require.js and just before embed-amd.js (nb_ipywidgets_js in _config.yml).
(function () {
  var src = document.currentScript && document.currentScript.src;
  if (!src) return;
  var folder = src.slice(0, src.lastIndexOf("/") + 1) + "html-manager";
  window.__jupyter_widgets_assets_path__ = folder + "/";
  if (window.require && window.require.config) {
    window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": folder } });
  }
})();
