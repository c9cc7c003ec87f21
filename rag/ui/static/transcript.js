// The transcript: a chip shows its own quote in the evidence panel and moves focus there;
// "Back to the answer" (evidence.js) returns focus to the chip. `element` is the #answer box.
// An answer's chips are one tab stop (roving tabindex, first chip tabbable in render.py):
// Left/Right/Home/End move between them, Enter/Space open the evidence.
element.setAttribute('aria-live', 'polite');
element.setAttribute('role', 'log');
element.setAttribute('aria-label', 'Conversation');
// Follow the conversation as it is written, but only while the reader is at its bottom: one who
// scrolls up (to an earlier turn's chips) stays there until they scroll back down or ask again.
const scroller = element.closest('#answer') || element;
const atBottom = () => scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 40;
let follow = true;
let turnCount = element.querySelectorAll('.turn').length;
scroller.addEventListener('scroll', () => { follow = atBottom(); }, {passive: true});
new MutationObserver(() => {
  const now = element.querySelectorAll('.turn').length;
  if (now > turnCount) follow = true;  // a new question: show it
  turnCount = now;
  if (follow) scroller.scrollTop = scroller.scrollHeight;
}).observe(element, {childList: true, subtree: true, characterData: true});
window.ragShowEvidence = (chip) => {
  const turn = chip.dataset.turn;
  const n = chip.dataset.n;
  const k = chip.dataset.q;
  const panel = document.getElementById('evidence');
  const target = document.getElementById('ev-' + turn + '-' + n);
  if (!panel || !target) return false;
  const chips = Array.from(document.querySelectorAll('#answer a.chip'));
  // By identity, or (the transcript re-rendered since the chip was used) by what the chip points at.
  const same = (c) => c.dataset.turn === turn && c.dataset.n === n && c.dataset.q === k;
  window.ragChipIndex = chips.includes(chip) ? chips.indexOf(chip) : chips.findIndex(same);
  panel.querySelectorAll('section.ev-turn').forEach((s) => {
    s.hidden = s.dataset.turn !== turn;
    s.classList.toggle('picked', s.dataset.turn === turn && k !== undefined);
  });
  panel.querySelectorAll('.ev-focus').forEach((x) => x.classList.remove('ev-focus'));
  panel.querySelectorAll('mark.quote.on').forEach((x) => x.classList.remove('on'));
  document.querySelectorAll('#answer .turn').forEach((t) => t.classList.toggle('showing', t.dataset.turn === turn));
  target.open = true;
  target.classList.add('ev-focus');
  let first = null;
  if (k !== undefined) {
    target.querySelectorAll('mark.quote').forEach((m) => {
      if ((m.dataset.q || '').split(' ').includes(k)) {
        m.classList.add('on');
        first = first || m;
      }
    });
  }
  const column = document.getElementById('evidence-col');
  if (column) column.classList.add('ev-open');
  target.focus({preventScroll: true});
  (first || target).scrollIntoView({block: 'nearest'});
  return true;
};
// The evidence panel is a separate output that can render a moment after the answer's chips:
// a chip used before its quote is in the panel tries again for a few seconds (the last chip used wins).
// A chip used while its answer streams has no quote yet (data-q): when the finished answer has
// replaced it, the chip now in its place (same turn, position and source) is the one shown.
let pending = null;
const current = (chip, pos) => {
  if (chip.isConnected) return chip;
  const turn = element.querySelector('.turn[data-turn="' + chip.dataset.turn + '"]');
  const now = turn ? Array.from(turn.querySelectorAll('a.chip')) : [];
  const same = (c) => c && c.dataset.n === chip.dataset.n;
  return (same(now[pos]) && now[pos]) || now.find(same) || chip;
};
const openEvidence = (chip, tries = 30, pos = turnChips(chip).indexOf(chip)) => {
  clearTimeout(pending);
  const now = current(chip, pos);
  if (window.ragShowEvidence(now) || tries <= 0) return;
  pending = setTimeout(() => openEvidence(now, tries - 1, pos), 100);
};
element.addEventListener('click', (event) => {
  const chip = event.target.closest('a.chip');
  if (!chip || !chip.dataset.n) return;
  event.preventDefault();
  openEvidence(chip);
});
const turnChips = (chip) => Array.from((chip.closest('.turn') || element).querySelectorAll('a.chip'));
// The chip last focused is the answer's tab stop, so Tab and "Back to the answer" come back to it.
element.addEventListener('focusin', (event) => {
  const chip = event.target.closest('a.chip');
  if (!chip) return;
  turnChips(chip).forEach((c) => c.setAttribute('tabindex', c === chip ? '0' : '-1'));
});
element.addEventListener('keydown', (event) => {
  const chip = event.target.closest('a.chip');
  if (!chip) return;
  if (event.key === ' ' && chip.dataset.n) {
    event.preventDefault();
    openEvidence(chip);
    return;
  }
  const chips = turnChips(chip);
  const i = chips.indexOf(chip);
  const j = {ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: chips.length - 1}[event.key];
  if (j === undefined) return;
  event.preventDefault();
  const next = chips[Math.max(0, Math.min(chips.length - 1, j))];
  next.focus();
  next.scrollIntoView({block: 'nearest'});
});
