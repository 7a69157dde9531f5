export interface InputIssue {
  path: string;
  message: string;
}

/** A request or saga input that does not match its schema; `issues` says where and why. */
export class InvalidInputError extends Error {
  constructor(
    message: string,
    readonly issues: InputIssue[],
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }

  static fromZod(
    message: string,
    error: { issues: { path: PropertyKey[]; message: string }[] },
  ): InvalidInputError {
    return new InvalidInputError(
      message,
      error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })),
    );
  }
}
