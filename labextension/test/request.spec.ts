import {
  filenameFromDisposition,
  withCacheMode,
  withQuery
} from '../src/api/request';

describe('withQuery', () => {
  it('encodes values and drops null and undefined', () => {
    expect(
      withQuery('api/query', {
        q: 'a&b c',
        tag: ['x', 'y'],
        cursor: null,
        limit: undefined
      })
    ).toBe('api/query?q=a%26b+c&tag=x&tag=y');
    expect(withQuery('api/query', {})).toBe('api/query');
  });
});

describe('withCacheMode', () => {
  it('asks for revalidation instead of the timestamp cache buster', () => {
    expect(withCacheMode({}).cache).toBe('no-cache');
    expect(withCacheMode({ cache: 'default' }).cache).toBe('default');
  });
});

describe('filenameFromDisposition', () => {
  it('prefers the RFC 6266 UTF-8 name', () => {
    expect(
      filenameFromDisposition(
        `attachment; filename="Ums_tze.csv"; filename*=UTF-8''Ums%C3%A4tze.csv`
      )
    ).toBe('Umsätze.csv');
  });
  it('reads a quoted or bare plain name', () => {
    expect(
      filenameFromDisposition('attachment; filename="a \\"b\\".png"')
    ).toBe('a "b".png');
    expect(filenameFromDisposition('attachment; filename=report.pdf')).toBe(
      'report.pdf'
    );
    expect(filenameFromDisposition(null)).toBeNull();
    expect(filenameFromDisposition('inline')).toBeNull();
  });
});
