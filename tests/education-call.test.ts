/**
 * An education step in a real call: the real worker and LiveKit server, FerretDB (the clip's
 * audio in GridFS), the dialogue engine, and a patient in the room. The approved clip is a
 * 1 kHz tone, which no voice in the call makes, so hearing it proves the patient heard the clip
 * and not a synthesised stand-in; then the step's question is put and the protocol goes on.
 * Talking over the clip stops it, and a red flag said over it is escalated first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureEducationIndexes, MongoEducationStore, type ClipAudio } from '../education/index.ts';
import { encodeWav } from '../prompts/preview.ts';
import type { Profile } from '../prompts/schema.ts';
import type { Pcm } from '../sim/speech.ts';
import { AgentHarness } from './support/agent-harness.ts';
import { lastToolResult, lastUserText } from './support/standins/openai.ts';
import { shutdownRtc } from './support/patient.ts';

const GREETING_TIMEOUT_MS = 90_000;
const TEST_TIMEOUT_MS = 240_000;
const TONE_HZ = 1000;
const TONE_MS = 4000;
const CLIP_TEXT = 'Keep the dressing dry for two days.';
const QUESTION = 'Did that make sense?';

afterAll(async () => {
  await shutdownRtc();
});

function toneWav(): Buffer {
  const rate = 22_050;
  const samples = new Int16Array((rate * TONE_MS) / 1000);
  for (let i = 0; i < samples.length; i++) {
    samples[i] = Math.round(9000 * Math.sin((2 * Math.PI * TONE_HZ * i) / rate));
  }
  return encodeWav(samples, rate, 1);
}

/** 100 ms windows of `pcm` in which a 1 kHz tone carries most of the energy. */
function toneWindows(pcm: Pcm): number {
  const n = Math.round(pcm.sampleRate / 10);
  const k = (2 * Math.PI * TONE_HZ) / pcm.sampleRate;
  let count = 0;
  for (let start = 0; start + n <= pcm.samples.length; start += n) {
    let s1 = 0;
    let s2 = 0;
    let energy = 0;
    for (let i = 0; i < n; i++) {
      const x = pcm.samples[start + i] ?? 0;
      energy += x * x;
      const s0 = x + 2 * Math.cos(k) * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = (s1 * s1 + s2 * s2 - 2 * Math.cos(k) * s1 * s2) / (n / 2);
    const rms = Math.sqrt(energy / n);
    if (rms > 300 && power / energy > 0.7) count++;
  }
  return count;
}

/** The wound-care script, approved, with an approved clip of the tone. */
async function seedClip(h: AgentHarness): Promise<string> {
  await ensureEducationIndexes(h.mongo.db);
  const store = new MongoEducationStore({ db: h.mongo.db });
  const created = { by: 'Dr Lee', at: new Date() };
  await store.addScriptVersion({
    scriptId: 'knee-wound-care',
    title: 'Knee wound care',
    text: CLIP_TEXT,
    profiles: ['intake'],
    created,
  });
  await store.approveScript('knee-wound-care', 1, { by: 'Governance', at: new Date() });
  const clipId = 'clip_0000000000000001';
  await store.addClip({
    clipId,
    scriptId: 'knee-wound-care',
    scriptVersion: 1,
    voice: { provider: 'local', voiceId: 'en-us', speed: 1 },
    requested: created,
  });
  const wav = toneWav();
  const fileId = await store.saveAudio(clipId, wav, { mimeType: 'audio/wav' });
  const audio: ClipAudio = {
    fileId,
    format: 'wav',
    mimeType: 'audio/wav',
    sampleRate: 22_050,
    channels: 1,
    durationMs: TONE_MS,
    bytes: wav.length,
    sha256: 'test',
  };
  await store.reportClip(clipId, { state: 'ready', audio, renderedAt: new Date() });
  await store.approveClip(clipId, { by: 'Governance', at: new Date() });
  return clipId;
}

const override: Partial<Profile> = {
  firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?',
  protocol: [
    {
      id: 'medication-changes',
      ask: 'Have any of your medicines changed since your last visit?',
      intent: 'Flag the medication list for reconciliation.',
      capture: { field: 'medicationChanges', type: 'yesno' },
    },
    {
      id: 'wound-care',
      ask: QUESTION,
      intent: 'Teach-back after the wound care clip.',
      capture: { field: 'understoodWoundCare', type: 'yesno' },
      play: { script: 'knee-wound-care' },
    },
    {
      id: 'new-allergies',
      ask: 'Do you have any new allergies to medicines, foods, or latex?',
      intent: 'Catch allergies that are not yet in the chart.',
      capture: { field: 'newAllergies', type: 'yesno' },
    },
  ],
};

/** 100 ms windows of tone the patient heard after the first `before` samples. */
function toneSince(patient: Call['patient'], before: number): number {
  const heard = patient.agentAudio();
  return toneWindows({ samples: heard.samples.subarray(before), sampleRate: heard.sampleRate });
}

/** A call placed and greeted: its session, its patient, and what the agent has said so far. */
async function openCall(h: AgentHarness) {
  const { request, patient } = await h.startSession();
  await patient.waitForAgentSpeech({ timeoutMs: GREETING_TIMEOUT_MS });
  await patient.waitForAgentSilence({ timeoutMs: 20_000 });
  const agentLines = async () =>
    (await h.utterances.listUtterances(request.sessionId)).filter((u) => u.role === 'agent');
  return { sessionId: request.sessionId, patient, agentLines };
}
type Call = Awaited<ReturnType<typeof openCall>>;

/**
 * Answers "yes" to the greeting and waits for the medication question to be said; the step after
 * it plays the clip. Returns how much audio the patient had heard by then.
 */
async function toMedicationQuestion(h: AgentHarness, { patient, agentLines }: Call) {
  await patient.sendText('yes');
  await h.eventually('the medication question', async () =>
    (await agentLines()).find((u) => u.text === override.protocol?.[0]?.ask),
  );
  await patient.waitForAgentSilence({ timeoutMs: 20_000 });
  const before = patient.agentAudio().samples.length;
  return before;
}

/**
 * Answers "yes" to the greeting and "no" to the medication question, which reaches the education
 * step: the whole clip is heard, then its question, which is returned.
 */
async function hearClipThenQuestion(h: AgentHarness, call: Call) {
  const { patient, agentLines } = call;
  const before = await toMedicationQuestion(h, call);
  await patient.sendText('no');
  const asked = await h.eventually(
    'the question after the clip',
    async () => (await agentLines()).find((u) => u.text === QUESTION),
    40_000,
  );
  await patient.waitForAgentSilence({ timeoutMs: 20_000 });
  const windows = toneSince(patient, before);
  // 4 s of tone is 40 windows; the edges and WebRTC's codec may blur a few.
  expect(windows).toBeGreaterThanOrEqual(30);
  expect(windows).toBeLessThanOrEqual(42);
  const clipLine = (await agentLines()).find((u) => u.text === CLIP_TEXT);
  expect(clipLine).toBeDefined();
  expect(clipLine?.interrupted).toBe(false);
  expect(clipLine!.seq).toBeLessThan(asked.seq);
  return asked;
}

describe('an education step in a call (dialogue engine)', () => {
  let h: AgentHarness;

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override }],
      workerEnv: {
        AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000',
        LLM_PROVIDERS: 'local',
        AGENT_PREEMPTIVE_GENERATION: 'false',
      },
    });
    await seedClip(h);
    await h.startWorker();
  });

  afterAll(async () => {
    await h?.close();
  });

  const open = () => openCall(h);

  it(
    'plays the approved clip to the patient, then asks the step question and goes on',
    async () => {
      const call = await open();
      const { sessionId, patient, agentLines } = call;
      await hearClipThenQuestion(h, call);

      await patient.sendText('yes');
      const answer = await h.eventually('the teach-back answer', async () => {
        const s = await h.sessions.get(sessionId);
        return s?.answers?.['understoodWoundCare'];
      });
      expect(answer.value).toBe(true);
      await h.eventually('the next step asked', async () =>
        (await agentLines()).find((u) => u.text === override.protocol?.[2]?.ask),
      );
      await patient.leave();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stops the clip when the patient talks over it, and runs the safety rules on what they said first',
    async () => {
      const call = await open();
      const { sessionId, patient, agentLines } = call;
      const before = await toMedicationQuestion(h, call);
      const at = performance.now();
      await patient.sendText('no');
      await patient.waitForAgentSpeech({ after: at, timeoutMs: 20_000 });
      // A second into the tone, the patient reports a red flag over it.
      await new Promise((r) => setTimeout(r, 1000));
      await patient.sendText('I have crushing chest pain');
      const session = await h.eventually(
        'the escalation',
        async () => {
          const s = await h.sessions.get(sessionId);
          return s?.escalations?.length ? s : undefined;
        },
        40_000,
      );
      expect(session.escalations?.[0]?.ruleId).toBe('chest-pain');
      await patient.waitForAgentSilence({ timeoutMs: 30_000 }).catch(() => undefined);
      const windows = toneSince(patient, before);
      // Some of the tone, not all of it.
      expect(windows).toBeGreaterThanOrEqual(3);
      expect(windows).toBeLessThan(30);
      const rule = h.profile.safety.find((r) => r.id === 'chest-pain')!;
      const lines = await agentLines();
      expect(lines.find((u) => u.text === rule.response)).toBeDefined();
      expect(lines.find((u) => CLIP_TEXT.startsWith(u.text) && u.interrupted)).toBeDefined();
      // The teach-back question was never answered by what was said over the clip.
      expect((await h.sessions.get(sessionId))?.answers?.['understoodWoundCare']).toBeUndefined();
      await patient.leave();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stops the clip when the patient speaks over it, and puts the question once they have finished',
    async () => {
      const call = await open();
      const { patient, agentLines } = call;
      const before = await toMedicationQuestion(h, call);
      const at = performance.now();
      await patient.sendText('no');
      const clipStart = await patient.waitForAgentSpeech({ after: at, timeoutMs: 20_000 });
      // A second into the 4 s tone the patient talks over it, out loud.
      await new Promise((r) => setTimeout(r, 1000));
      h.standins.deepgram.hear('sorry what was that');
      const spoken = patient.say('sorry, what was that');
      const quietAt = await patient.waitForAgentSilence({
        after: clipStart.at + 1000,
        silenceMs: 400,
        timeoutMs: 8000,
      });
      const talked = await spoken;
      console.log(
        `the clip stopped ${(quietAt - talked.startedAt).toFixed(0)} ms after the patient started talking over it`,
      );
      const windows = toneSince(patient, before);
      // About a second of tone and the half second VAD takes to call it speech; not 4 s.
      expect(windows).toBeGreaterThanOrEqual(5);
      expect(windows).toBeLessThan(30);
      const lines = await h.eventually('the question put after the patient spoke', async () => {
        const all = await agentLines();
        return all.some((u) => u.text === QUESTION) ? all : undefined;
      });
      const clipLine = lines.find((u) => CLIP_TEXT.startsWith(u.text) && u.interrupted);
      expect(clipLine).toBeDefined();
      expect(clipLine!.seq).toBeLessThan(lines.find((u) => u.text === QUESTION)!.seq);
      await patient.leave();
    },
    TEST_TIMEOUT_MS,
  );
});

describe('an education step in a call (LLM)', () => {
  let h: AgentHarness;

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override }],
      workerEnv: { AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000', SAFETY_CLASSIFIER: 'false' },
    });
    await seedClip(h);
    await h.startWorker();
  });

  afterAll(async () => {
    await h?.close();
  });

  it(
    'plays the clip when the model calls play_education, and the question it puts after comes after the clip',
    async () => {
      // A model that follows the brief: the medication question, then the lesson, then its question.
      h.standins.openai.configure({
        respond: (r) => {
          const result = lastToolResult(r);
          if (result !== undefined) {
            return result.startsWith('The lesson is playing') ? QUESTION : 'Okay.';
          }
          const said = lastUserText(r.messages) ?? '';
          if (/^yes/i.test(said)) return override.protocol?.[0]?.ask ?? '';
          if (/^no/i.test(said)) {
            return {
              toolCalls: [
                { name: 'record_answer', arguments: { field: 'medicationChanges', value: false } },
                { name: 'play_education', arguments: { step: 'wound-care' } },
              ],
            };
          }
          return 'Okay.';
        },
      });
      const call = await openCall(h);
      await hearClipThenQuestion(h, call);
      // The model was told to call it, and the answer before it was recorded.
      const briefed = h.standins.openai.chatRequests.at(-1);
      expect(JSON.stringify(briefed?.messages[0]?.content)).toContain(
        'First call play_education with step \\"wound-care\\"',
      );
      const s = await h.sessions.get(call.sessionId);
      expect(s?.answers?.['medicationChanges']?.value).toBe(false);
      await call.patient.leave();
    },
    TEST_TIMEOUT_MS,
  );
});
