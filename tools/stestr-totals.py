"""Count the outcomes in a subunit v2 stream read from standard input.

Prints "N passed, N failed", with ", N skipped" appended when some tests
were skipped. Expected failures count as passed, unexpected successes as
failed.
"""

import sys

import subunit
import testtools

OUTCOMES = {
    'success': 'passed',
    'xfail': 'passed',
    'fail': 'failed',
    'uxsuccess': 'failed',
    'skip': 'skipped',
}


def main() -> None:
    counts = {'passed': 0, 'failed': 0, 'skipped': 0}

    def record(test: dict) -> None:
        outcome = OUTCOMES.get(test['status'])
        if outcome:
            counts[outcome] += 1

    result = testtools.StreamToDict(record)
    result.startTestRun()
    subunit.ByteStreamToStreamResult(sys.stdin.buffer).run(result)
    result.stopTestRun()
    line = '%(passed)d passed, %(failed)d failed' % counts
    if counts['skipped']:
        line += ', %(skipped)d skipped' % counts
    print(line)


if __name__ == '__main__':
    main()
