import { describe, expect, it } from 'vitest';
import { cleanTypedText } from './text-input.ts';

describe('cleanTypedText', () => {
  it('keeps ordinary text as typed, trimmed', () => {
    expect(cleanTypedText('  I have chest pain  ', 100)).toEqual({
      text: 'I have chest pain',
      truncatedChars: 0,
    });
  });

  it('turns control characters into spaces and drops invisible ones inside words', () => {
    expect(cleanTypedText('I have\nche\u200Bst\u0000pain\u202E', 100)?.text).toBe(
      'I have chest pain',
    );
  });

  it('folds full-width letters into plain ones so the rules see them', () => {
    expect(cleanTypedText('ｃｈｅｓｔ ｐａｉｎ', 100)?.text).toBe('chest pain');
  });

  it('caps long text by code points without splitting a surrogate pair', () => {
    const cleaned = cleanTypedText(`${'😀'.repeat(5)}abc`, 3);
    expect(cleaned).toEqual({ text: '😀😀😀', truncatedChars: 5 });
  });

  it('gives nothing for text with nothing readable in it', () => {
    expect(cleanTypedText(' \u200B\n\t ', 100)).toBeNull();
  });
});
