/* Runs in the page (see tests/support/call-page.ts): every 50 ms, the RMS level of what the
 * page's <audio> elements play, read through an AnalyserNode, kept in window.__remoteAudio. */
/* global window, document, AudioContext, MediaStream */
(() => {
  const probe = { samples: [], tracks: 0 };
  window.__remoteAudio = probe;
  const hooked = new Map();
  let ctx;
  const buf = new Float32Array(2048);
  setInterval(() => {
    for (const el of document.querySelectorAll('audio')) {
      const stream = el.srcObject;
      if (!(stream instanceof MediaStream)) continue;
      for (const track of stream.getAudioTracks()) {
        if (hooked.has(track.id) || track.readyState !== 'live') continue;
        ctx = ctx || new AudioContext();
        void ctx.resume();
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 2048;
        ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
        hooked.set(track.id, analyser);
        probe.tracks += 1;
      }
    }
    if (hooked.size === 0) return;
    let sum = 0;
    let n = 0;
    for (const analyser of hooked.values()) {
      analyser.getFloatTimeDomainData(buf);
      for (const v of buf) sum += v * v;
      n += buf.length;
    }
    probe.samples.push({ t: performance.now(), rms: Math.sqrt(sum / n) });
    if (probe.samples.length > 20000) probe.samples.splice(0, 10000);
  }, 50);
})();
