// latest.ts — answers taken in the order they were asked.
//
// A screen that polls the server and also reads (or gets back) what it has
// after a write can see a poll asked before the write answered after it (a
// slow network, a loaded server). Taken as it comes, that old answer puts
// back what was there before the write: a just-uploaded document gone, a
// share's "Visible to" as before it, a party asked again a question she
// just answered. Each answer is numbered, when it is asked (a read) or when
// it arrives (a write's answer, which holds what the server has after the
// write); one older than the answer taken is dropped.

/** The numbering of one screen's answers about one thing. */
export interface Latest {
  /** The number of an answer asked now (or a write's answer arrived now). */
  ask(): number;
  /** Whether the answer numbered n may be taken (none newer was): if so, it is the one taken now. */
  take(n: number): boolean;
}

/** latest numbers the answers about one thing, so that an old one is never taken over a newer one. */
export function latest(): Latest {
  let asked = 0;
  let taken = 0;
  return {
    ask: () => ++asked,
    take: (n: number) => {
      if (n < taken) return false;
      taken = n;
      return true;
    },
  };
}
