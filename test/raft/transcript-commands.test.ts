/**
 * Runner commands that only the environment implements (no core behaviour of their own): checked
 * here on small inline transcripts, so that a transcript using them can be trusted.
 */
import { describe, expect, it } from 'vitest';
import { defaultCore } from './transcript/default-core.ts';
import { runTranscriptFile } from './transcript/runner.ts';

/** Runs `text` (commands with empty outputs) and returns each command's actual output. */
function outputs(text: string): string[] {
  const res = runTranscriptFile(text, defaultCore);
  return res.actual
    .split(/\n\n(?=[a-z])/)
    .map((block) => block.slice(block.indexOf('----\n') + 5).trimEnd());
}

const setup = 'add-nodes 3 voters=(1,2,3) quiet=true\n----\n\ncampaign 1\n----\n\nstabilize quiet=true\n----\n\n';

describe('transcript runner commands', () => {
  it('delay-msgs moves the matching messages, in order, behind all others', () => {
    const out = outputs(
      setup +
        'propose 1 a\n----\n\npropose 1 b\n----\n\nprocess-ready 1 quiet=true\n----\n\n' +
        'delay-msgs to=(2) type=MsgApp count=1\n----\n\ndeliver-msgs 2\n----\n\n' +
        'delay-msgs from=(3)\n----\n\nnetwork\n----\n',
    );
    expect(out[6]).toBe('delayed 1->2 MsgApp Term:1 Log:1/1 Commit:1 Entries:[1/2 EntryNormal "a"]');
    // The append of "b" now comes first.
    expect(out[7]).toBe(
      [
        '> 2 receiving messages',
        '  1->2 MsgApp Term:1 Log:1/2 Commit:1 Entries:[1/3 EntryNormal "b"]',
        '  1->2 MsgApp Term:1 Log:1/1 Commit:1 Entries:[1/2 EntryNormal "a"]',
      ].join('\n'),
    );
    expect(out[8]).toBe('no messages');
    // The queue (only 3's appends are left) keeps its order.
    expect(out[9]).toBe(
      ['1->3 MsgApp Term:1 Log:1/1 Commit:1 Entries:[1/2 EntryNormal "a"]', '1->3 MsgApp Term:1 Log:1/2 Commit:1 Entries:[1/3 EntryNormal "b"]'].join('\n'),
    );
  });

  it('timers shows a leader transfer timer only while a transfer is under way', () => {
    const out = outputs(
      setup + 'timers 1\n----\n\nisolate 3\n----\n\ntransfer-leadership from=1 to=3\n----\n\ntick 1 count=2\n----\n\ntimers 1\n----\n',
    );
    expect(out[3]).not.toContain('transferElapsed');
    expect(out[7]).toMatch(/^1: leader electionElapsed=2 .* transferElapsed=2$/);
  });
});
