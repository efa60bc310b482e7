/**
 * A small curated lay vocabulary: the words patients and leaflets use for the same thing
 * ("staples" and "stitches", "blood thinner" and "anticoagulant", "jab" and "vaccine"), which
 * of them are topic words, and what a named medicine is a kind of.
 *
 * - Every word or phrase of a concept becomes the concept's one term, in passages and questions
 *   alike, so either side may use either word.
 * - A topic word (a medicine, a body part, a condition, an activity, a care service) names what a question is
 *   about: a passage that does not hold it does not answer the question, however many other
 *   words it shares. "Can I take my blood pressure pills in the morning?" shares "take", "pill"
 *   and "morning" with the apixaban leaflet, but names a condition the leaflet never mentions.
 * - `broader` applies to passages only: a passage naming apixaban is also about anticoagulants,
 *   so "my blood thinner" finds it; a question naming warfarin does not find apixaban, because a
 *   different medicine is a different answer.
 *
 * It is a list of common words, not of the evaluation's questions: add a concept when a clinic's
 * documents or patients use a word for it that the list lacks, never to pass one question.
 */

export type TopicKind = 'medicine' | 'body' | 'condition' | 'activity' | 'service';

export interface Concept {
  /** Words and phrases (up to three words) for it; the first names the term. */
  say: readonly string[];
  /** A topic word: a passage must hold it to answer a question that names it. */
  topic?: TopicKind;
  /** Wider concepts (by their first word) a passage naming this one is also about. */
  broader?: readonly string[];
}

const medicine = (say: string[], broader?: string[]): Concept => ({
  say,
  topic: 'medicine',
  ...(broader ? { broader } : {}),
});
const topic =
  (kind: TopicKind) =>
  (...say: string[]): Concept => ({ say, topic: kind });
const body = topic('body');
const condition = topic('condition');
const activity = topic('activity');
const service = topic('service');
const same = (...say: string[]): Concept => ({ say });

export const CONCEPTS: readonly Concept[] = [
  // Medicines, by name and by kind.
  medicine(['anticoagulant', 'blood thinner', 'blood thinning', 'anticoagulation']),
  medicine(['apixaban', 'eliquis'], ['anticoagulant']),
  medicine(['rivaroxaban', 'xarelto'], ['anticoagulant']),
  medicine(['edoxaban', 'lixiana'], ['anticoagulant']),
  medicine(['dabigatran', 'pradaxa'], ['anticoagulant']),
  medicine(['warfarin', 'coumadin'], ['anticoagulant']),
  medicine(['heparin', 'enoxaparin', 'clexane', 'fragmin'], ['anticoagulant']),
  medicine([
    'analgesic',
    'painkiller',
    'pain killer',
    'pain relief',
    'pain medicine',
    'pain medication',
    'pain tablet',
    'pain pill',
    'pain relieve',
  ]),
  medicine(['nsaid', 'anti inflammatory', 'antiinflammatory'], ['analgesic']),
  medicine(['ibuprofen', 'advil', 'nurofen', 'motrin', 'brufen'], ['nsaid']),
  medicine(['naproxen', 'naprosyn', 'aleve'], ['nsaid']),
  medicine(['diclofenac', 'voltarol', 'voltaren'], ['nsaid']),
  medicine(['aspirin'], ['nsaid']),
  medicine(['paracetamol', 'acetaminophen', 'tylenol', 'panadol', 'calpol'], ['analgesic']),
  medicine(['codeine', 'co codamol', 'cocodamol'], ['analgesic']),
  medicine(['tramadol'], ['analgesic']),
  medicine(['morphine', 'oxycodone', 'oramorph', 'opioid'], ['analgesic']),
  medicine(['antibiotic', 'amoxicillin', 'penicillin', 'flucloxacillin', 'doxycycline']),
  medicine(['statin', 'atorvastatin', 'simvastatin']),
  medicine([
    'hypnotic',
    'sleeping tablet',
    'sleeping pill',
    'sleep tablet',
    'sleeping medicine',
    'zopiclone',
    'temazepam',
  ]),
  medicine(['antidepressant', 'sertraline', 'citalopram', 'fluoxetine', 'amitriptyline']),
  medicine(['antihistamine', 'cetirizine', 'loratadine', 'piriton', 'chlorphenamine']),
  medicine([
    'steroid',
    'corticosteroid',
    'prednisolone',
    'beclometasone',
    'budesonide',
    'fluticasone',
  ]),
  medicine(['reliever', 'blue inhaler', 'salbutamol', 'ventolin', 'terbutaline']),
  medicine(['preventer', 'brown inhaler', 'preventer inhaler']),
  medicine(['inhaler', 'puffer']),
  medicine(['nebuliser', 'nebulizer']),
  medicine(['vaccine', 'vaccination', 'jab', 'immunisation', 'immunization', 'booster']),
  medicine(['vitamin', 'multivitamin']),
  medicine(['herbal', 'herbal remedy', 'herb', 'wort']),
  medicine(['insulin']),
  medicine(['metformin']),
  medicine(['levothyroxine', 'thyroxine']),
  medicine(['omeprazole', 'lansoprazole', 'antacid', 'gaviscon', 'rennie']),
  medicine(['laxative', 'senna', 'lactulose', 'movicol']),
  medicine(['cough medicine', 'cough syrup', 'cough mixture', 'linctus']),
  medicine([
    'antihypertensive',
    'amlodipine',
    'ramipril',
    'lisinopril',
    'bisoprolol',
    'beta blocker',
  ]),
  medicine(['diuretic', 'water tablet', 'water pill', 'furosemide']),
  medicine(['contraceptive', 'contraception']),
  // Conditions.
  condition('blood pressure', 'hypertension'),
  condition('diabetes', 'diabetic', 'blood sugar'),
  condition('asthma', 'asthmatic'),
  condition('covid', 'coronavirus'),
  condition('flu', 'influenza'),
  condition('hay fever', 'allergy', 'allergic'),
  condition('cancer', 'chemotherapy'),
  condition('depression', 'depressed', 'low mood', 'anxiety', 'anxious'),
  condition('pregnancy', 'pregnant', 'expecting a baby'),
  condition('breastfeeding', 'breastfeed', 'breast feeding', 'breast feed', 'nursing a baby'),
  condition('clot', 'dvt', 'thrombosis', 'embolism'),
  condition('thrush'),
  condition('arthritis'),
  condition('epilepsy', 'seizure'),
  condition('stroke'),
  // Body parts (not "back" or "side", which mean other things as often).
  body('knee', 'kneecap'),
  body('hip'),
  body('leg', 'thigh', 'shin'),
  body('calf', 'calves'),
  body('ankle'),
  body('foot', 'feet', 'toe'),
  body('arm', 'elbow', 'wrist'),
  body('hand', 'finger', 'thumb'),
  body('shoulder'),
  body('neck'),
  body('head', 'scalp'),
  body('face'),
  body('eye'),
  body('ear'),
  body('nose', 'nostril'),
  body('mouth'),
  body('lip'),
  body('tongue'),
  body('tooth', 'teeth'),
  body('gum'),
  body('throat'),
  body('chest'),
  body('heart'),
  body('lung'),
  body('stomach', 'tummy', 'belly'),
  body('bowel'),
  body('bladder'),
  body('kidney'),
  body('liver'),
  body('skin'),
  body('hair'),
  body('nail'),
  body('breast'),
  body('lap'),
  // Activities.
  activity('shower'),
  activity('bath', 'bathe', 'bathtub', 'tub', 'hot tub', 'soak', 'jacuzzi'),
  activity('swim', 'swimming pool'),
  activity('sauna', 'steam room'),
  activity('drive', 'car', 'behind the wheel'),
  activity('fly', 'flight', 'plane', 'airplane', 'aeroplane'),
  activity('travel', 'journey', 'trip', 'holiday'),
  activity('sex', 'sexual', 'intercourse'),
  activity('work', 'job', 'office', 'employer'),
  activity('sleep', 'asleep'),
  activity('exercise', 'sport', 'gym', 'workout', 'football', 'rugby', 'tennis', 'golf'),
  activity('run', 'jog', 'jogging'),
  same('run out', 'running out', 'nearly empty'),
  activity('cycle', 'bike', 'bicycle'),
  activity('walk', 'stroll'),
  activity('stair', 'staircase'),
  activity('kneel'),
  activity('garden'),
  activity('lift', 'carry heavy'),
  activity('smoke', 'cigarette', 'vape', 'vaping'),
  activity('dye'),
  // The care service rather than care: leaflets rarely answer these, and a passage that does
  // names them.
  service('appointment', 'review'),
  service('result'),
  service('prescription', 'repeat prescription'),
  service('referral', 'refer'),
  service('cost', 'price', 'pay', 'charge', 'fee'),
  service('parking', 'park'),
  service('sick note', 'fit note', 'certificate'),
  // Everyday words for the same thing, which are not topics by themselves.
  same('stitch', 'staple', 'suture', 'clip'),
  same('wound', 'incision', 'cut', 'scar'),
  same('bandage', 'dressing', 'plaster'),
  same('swell', 'swollen', 'puffy'),
  same('cold pack', 'ice pack', 'icepack', 'ice'),
  same('miss', 'forget', 'forgot', 'forgotten', 'skip', 'skipped'),
  same('tablet', 'pill', 'capsule'),
  same('medicine', 'medication'),
  same('alcohol', 'booze', 'drink', 'beer', 'wine', 'spirits'),
  same('pain', 'hurt', 'ache', 'aching'),
  same('urine', 'pee', 'wee'),
  same('stool', 'poo'),
  same('walking aid', 'crutch', 'walker', 'walking frame', 'zimmer', 'walking stick'),
  same('water', 'running water', 'tap water'),
  same('physiotherapist', 'physio', 'physiotherapy'),
  same('dentist', 'dental'),
  same('operation', 'op', 'surgery'),
];
