/*
 * 坪山区数字服务供需对接平台 · 需求匹配小组件
 *
 * Put on a portal page:
 *   <script src="https://<platform>/embed/widget.js" async></script>
 * Optional attributes: data-target="#css-selector" (the element to put the widget in; default: right
 * after this script tag), data-height="560" (pixels), data-title (the iframe's accessible name).
 * The portal's origin must be listed in the platform's MATCHMAKER_EMBED_ORIGINS. Without script, the
 * portal can write the same iframe by hand: <iframe src="https://<platform>/embed/need" title="…">.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) {
    return;
  }
  var frame = document.createElement("iframe");
  frame.src = new URL("need", script.src).href; // /embed/widget.js -> /embed/need, on the platform
  frame.title = script.getAttribute("data-title") || "数字化需求匹配";
  frame.loading = "lazy";
  frame.referrerPolicy = "strict-origin-when-cross-origin";
  // Forms (the search) and new tabs (links into the platform); the page itself runs no script.
  frame.setAttribute("sandbox", "allow-forms allow-popups allow-popups-to-escape-sandbox allow-same-origin");
  frame.style.width = "100%";
  frame.style.height = (parseInt(script.getAttribute("data-height"), 10) || 560) + "px";
  frame.style.border = "0";
  var selector = script.getAttribute("data-target");
  var host = selector ? document.querySelector(selector) : null;
  if (host) {
    host.appendChild(frame);
  } else {
    script.parentNode.insertBefore(frame, script.nextSibling);
  }
})();
