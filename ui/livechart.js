// Explore's live chart (ui/livechart.py): a plotly chart with a frame per neighbouring setting of
// some of the page's own sliders (frame name: their shown values joined by "|"). When one of them
// moves (a key press, a click, a drag), the frame named after the shown values is drawn at once;
// the rerun the move also starts brings the numbers and this chart for the new setting. No law,
// schedule or area here: every frame is computed in Python by cptcore.

let plotly = null; // plotly.js of the installed plotly package, loaded once per page

function loadPlotly(url) {
  if (!plotly) {
    plotly = fetch(url)
      .then((r) => {
        if (!r.ok) throw new Error(`plotly.js: HTTP ${r.status}`);
        return r.text();
      })
      .then((code) => {
        // the bundle also sets window.Plotly: leave the page's own (Streamlit's charts) in place
        const had = Object.prototype.hasOwnProperty.call(window, "Plotly");
        const before = window.Plotly;
        const module = { exports: {} };
        new Function("module", "exports", `${code}\n//# sourceURL=plotly.min.js`)(
          module,
          module.exports,
        );
        if (had) window.Plotly = before;
        else delete window.Plotly;
        return module.exports;
      });
    plotly.catch(() => {
      plotly = null; // try again with the next chart
    });
  }
  return plotly;
}

// a Streamlit slider keeps its shown value in its range input's aria-valuetext
const input = (key) => document.querySelector(`.st-key-${key} input[type="range"]`);

function themed(layout, host) {
  const css = getComputedStyle(host);
  const ink = css.getPropertyValue("--st-text-color").trim();
  const family = css.getPropertyValue("--st-font").trim();
  const font = { ...(layout.font || {}) };
  if (ink) font.color = ink;
  if (family) font.family = family;
  return { ...layout, font };
}

const STEP = { mode: "immediate", frame: { duration: 0, redraw: false }, transition: { duration: 0 } };

export default function (component) {
  const { data, parentElement } = component;
  let gd = parentElement.querySelector(".cpt-live-chart");
  if (!gd) {
    gd = document.createElement("div");
    gd.className = "cpt-live-chart";
    gd.setAttribute("role", "img");
    parentElement.appendChild(gd);
  }
  // Streamlit calls this again with new data without the last call's cleanup (it runs that on
  // unmount only): end the last call's watchers first
  if (gd.cptLiveEnd) gd.cptLiveEnd();
  gd.setAttribute("aria-label", data.alt || "chart");
  const fig = JSON.parse(data.figure);
  const names = new Set((fig.frames || []).map((f) => f.name));
  let P = null;
  let current = data.active;
  let gone = false;
  const show = () => {
    if (!P || gone) return;
    const name = data.controls.map((k) => input(k)?.getAttribute("aria-valuetext")).join("|");
    if (name === current || !names.has(name)) return; // not sent: the rerun draws it
    current = name;
    gd.dataset.frame = name;
    P.animate(gd, [name], STEP);
  };
  const watched = new Map(); // control key -> [input element, observer]
  const watch = () => {
    for (const key of data.controls) {
      const el = input(key);
      const had = watched.get(key);
      if (had && had[0] === el) continue;
      if (had) had[1].disconnect();
      if (!el) continue;
      const mo = new MutationObserver(show);
      mo.observe(el, { attributes: true, attributeFilter: ["aria-valuetext"] });
      watched.set(key, [el, mo]);
    }
  };
  // a slider Streamlit drew anew (e.g. its tab re-drawn): watch the new one from the next input
  const rewatch = () => watch();
  watch();
  document.addEventListener("pointerdown", rewatch, true);
  document.addEventListener("keydown", rewatch, true);
  const end = () => {
    gone = true;
    for (const [, mo] of watched.values()) mo.disconnect();
    document.removeEventListener("pointerdown", rewatch, true);
    document.removeEventListener("keydown", rewatch, true);
    if (gd.cptLiveEnd === end) gd.cptLiveEnd = null;
  };
  gd.cptLiveEnd = end;
  loadPlotly(data.plotly)
    .then((lib) => {
      if (gone) return null;
      P = lib;
      const figure = {
        data: fig.data,
        layout: themed(fig.layout, parentElement),
        frames: fig.frames || [],
        config: { ...data.config, responsive: true }, // follows the column's width
      };
      return P.react(gd, figure).then(() => {
        gd.dataset.frame = data.active;
        show(); // a slider moved while this chart was on its way
      });
    })
    .catch((e) => {
      gd.textContent = `The chart could not be drawn (${e.message}): turn off "Live chart" in the Display tab.`;
    });
  return end;
}
