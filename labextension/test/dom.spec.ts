import { h } from '../src/ui/dom';

describe('h', () => {
  it('sets user text as text, never as markup', () => {
    const node = h('div', { text: '<img src=x onerror=alert(1)>' });
    expect(node.children).toHaveLength(0);
    expect(node.textContent).toBe('<img src=x onerror=alert(1)>');
  });
});
