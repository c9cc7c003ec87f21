(question, ...rest) => {
  // Clear the box once, here, at submit: the server never writes to it, so text typed while an
  // answer streams is never touched.
  const box = document.querySelector('#question textarea');
  if (box && box.value === question) {
    box.value = '';
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }
  return [question, ...rest];
}
