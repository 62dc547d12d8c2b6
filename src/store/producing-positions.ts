/**
 * The pairing every depth statistic reads (docs/method.md, "Which token a depth belongs to"): each
 * generated token `g` of a done sample `s`, joined to the row `p` of the pass that produced it (the
 * position before it; the last prompt position for the first generated token). A FROM clause with
 * its WHERE, so a caller appends `AND ...` conditions, then GROUP BY.
 */
export const GENERATED_WITH_PRODUCER = `
  FROM tokens g
  JOIN samples s ON s.run_id = g.run_id AND s.doc_id = g.doc_id AND s.status = 'done'
  JOIN tokens p ON p.run_id = g.run_id AND p.doc_id = g.doc_id AND p.position = g.position - 1
  WHERE g.phase = 'generated'`;
