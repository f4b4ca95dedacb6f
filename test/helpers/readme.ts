/**
 * Every `parity ...` command line in the README's code blocks: sh blocks, and `run:` steps of workflow examples;
 * continuation lines joined.
 */
export function readmeCommandLines(text: string): string[] {
  const blocks = [...text.matchAll(/```(?:sh|yaml)\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  return blocks
    .flatMap((block) => block.replace(/\\\n\s*/g, ' ').split('\n'))
    .map((line) => line.trim().replace(/^(- )?run: /, ''))
    .filter((line) => /^(npx )?parity /.test(line));
}

/** Splits a shell line into words as sh would for these simple lines: quotes kept together, stops at # | & > ;. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const char of line) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word = (word ?? '') + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word = word ?? '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if ('#|&>;'.includes(char)) {
      break;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (word !== undefined) words.push(word);
  return words[0] === 'npx' ? words.slice(1) : words;
}
