(question, ...rest) => {
  // Clear the box once, here, at submit: the server never writes to it, so text typed while an
  // answer streams is never touched.
  // Whatever was typed after the question (a fast typist, a busy machine) stays in the box.
  const box = document.querySelector('#question textarea');
  if (box && box.value.startsWith(question)) {
    box.value = box.value.slice(question.length);
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }
  return [question, ...rest];
}
