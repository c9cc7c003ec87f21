// The evidence panel: "Back to the answer" (and Escape) closes the phone panel and returns focus
// to the chip that opened it. `element` is the #evidence box.
element.setAttribute('aria-label', 'Evidence');
const back = () => {
  const column = document.getElementById('evidence-col');
  if (column) column.classList.remove('ev-open');
  const chips = document.querySelectorAll('#answer a.chip');
  const chip = chips[window.ragChipIndex ?? -1];
  if (chip) {
    chip.focus({preventScroll: true});
    chip.scrollIntoView({block: 'nearest'});
  } else {
    const box = document.querySelector('#question textarea');
    if (box) box.focus();
  }
};
element.addEventListener('click', (event) => {
  if (event.target.closest('button.ev-back')) back();
});
element.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') back();
});
