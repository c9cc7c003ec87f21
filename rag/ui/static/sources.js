// The sources list: a title opens its document (through the hidden #doc-key box, which the
// server watches). `element` is the #sources-table box.
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.src-open');
  if (!button) return;
  const box = document.querySelector('#doc-key textarea, #doc-key input');
  if (!box) return;
  // A counter makes a second click on the same title a change too.
  window.ragOpenCount = (window.ragOpenCount || 0) + 1;
  box.value = button.dataset.source + '\u0000' + window.ragOpenCount;
  box.dispatchEvent(new Event('input', {bubbles: true}));
  const view = document.getElementById('doc-view');
  if (view) view.scrollIntoView({block: 'nearest'});
});
