/**
 * The transcript format itself: parsing, arguments, and rewriting (what re-recording relies on).
 */
import { describe, expect, it } from 'vitest';
import { formatTranscript, parseCommandLine, parseTranscript, TranscriptSyntaxError } from './transcript/datadriven.ts';

describe('transcript format', () => {
  it('parses commands, comments and expected outputs, and writes them back unchanged', () => {
    const text = '# a comment\n# on two lines\nadd-nodes 3 voters=(1,2,3) prevote=true\n----\nline 1\nline 2\n\ncampaign 1\n----\nok\n';
    const blocks = parseTranscript(text);
    expect(blocks.map((b) => b.cmd)).toEqual(['add-nodes', 'campaign']);
    expect(blocks[0].comments).toEqual(['# a comment', '# on two lines']);
    expect(blocks[0].expected).toBe('line 1\nline 2');
    expect(blocks[1].lineNo).toBe(8);
    expect(formatTranscript(blocks, blocks.map((b) => b.expected))).toBe(text);
  });

  it('rewrites only the outputs', () => {
    const blocks = parseTranscript('campaign 1\n----\nold\n');
    expect(formatTranscript(blocks, ['new 1\nnew 2'])).toBe('campaign 1\n----\nnew 1\nnew 2\n');
  });

  it('splits arguments into words, key=value and (list) values', () => {
    const { cmd, args } = parseCommandLine('deliver-msgs 2 drop=(3, 4) type=MsgApp partition (1) (2,3)');
    expect(cmd).toBe('deliver-msgs');
    expect(args).toEqual([
      { key: '2', vals: [], isList: false },
      { key: 'drop', vals: ['3', '4'], isList: true },
      { key: 'type', vals: ['MsgApp'], isList: false },
      { key: 'partition', vals: [], isList: false },
      { key: '', vals: ['1'], isList: true },
      { key: '', vals: ['2', '3'], isList: true },
    ]);
    expect(parseCommandLine('add-nodes 1 voters=()').args[1]).toEqual({ key: 'voters', vals: [], isList: true });
  });

  it('points at the line of a malformed block', () => {
    expect(() => parseTranscript('campaign 1\nstabilize\n----\n')).toThrow(TranscriptSyntaxError);
    expect(() => parseTranscript('\n\ncampaign 1\n')).toThrow(/line 3/);
    expect(() => parseCommandLine('tick (1 2', 7)).toThrow(/line 7/);
  });
});
