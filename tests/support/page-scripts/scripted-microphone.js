/* Runs in the page (see tests/support/call-page.ts): the page's getUserMedia asks for real,
 * then hands over a WebAudio stream that is silent until the test calls
 * window.__microphone.say(name) with one of the clips in window.__microphoneClips (base64 WAV). */
/* global window, navigator, AudioContext, atob */
(() => {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) return;
  const clips = window.__microphoneClips || {};
  const real = devices.getUserMedia.bind(devices);
  let ctx;
  let destination;
  const state = {
    opened: 0,
    async say(name) {
      if (!ctx || !destination) throw new Error('the page has not opened the microphone');
      const b64 = clips[name];
      if (!b64) throw new Error(`no clip named ${name}`);
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const buffer = await ctx.decodeAudioData(bytes.buffer);
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(destination);
      await new Promise((resolve) => {
        source.onended = () => resolve();
        source.start();
      });
      return buffer.duration * 1000;
    },
  };
  window.__microphone = state;
  devices.getUserMedia = async (constraints) => {
    // The real request first: the permission and the device decide, as for a person.
    const stream = await real(constraints);
    if (!constraints || !constraints.audio) return stream;
    for (const t of stream.getAudioTracks()) {
      t.stop();
      stream.removeTrack(t);
    }
    ctx = ctx || new AudioContext({ sampleRate: 48000 });
    destination = destination || ctx.createMediaStreamDestination();
    await ctx.resume();
    state.opened += 1;
    for (const t of destination.stream.getAudioTracks()) stream.addTrack(t.clone());
    return stream;
  };
})();
