// A status box that screen readers hear as it changes (as #answer's transcript.js does): the
// upload lines, "queued", "ingesting 120 of 800 passages" and each file's result.
element.setAttribute('aria-live', 'polite');
element.setAttribute('role', 'status');
element.setAttribute('aria-label', 'Uploads');
