// Typeset the math that pymdownx.arithmatex (generic mode) wraps in .arithmatex elements, with the KaTeX
// copy served from this site (docs/assets/katex). Material's instant navigation swaps pages without a
// reload, so typeset on every page change (document$), not only on load.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  });
});
