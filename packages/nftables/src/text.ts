/**
 * Text written in pieces, joined a few thousand at a time so the pieces die young. Pieces, not
 * lines: a line made by concatenation would be a rope for the join to walk, and a rule made from
 * a template is written as its template's prepared text and its values, with no string of its own.
 */
const PIECES = 16384;

export class Text {
  private readonly chunks: string[] = [];
  /** One array of PIECES slots, reused for every chunk (no growth, no new array a chunk). */
  private readonly pieces: string[] = new Array<string>(PIECES).fill('');
  private n = 0;
  push(s: string): void {
    this.pieces[this.n++] = s;
    if (this.n === PIECES) {
      this.chunks.push(this.pieces.join(''));
      this.n = 0;
    }
  }
  done(): string {
    this.chunks.push(this.pieces.slice(0, this.n).join(''));
    this.n = 0;
    return this.chunks.join('');
  }
}
