// Small inline SVG charts (no chart library): a bar per day, with the axis labels people need.
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 600;
const HEIGHT = 200;
const PAD = { left: 36, right: 8, top: 10, bottom: 24 };

export interface Point {
  label: string;
  value: number;
}

function node<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Draws `points` as bars into `figure`, with a caption and a text summary for screen readers. */
export function barChart(figure: HTMLElement, caption: string, points: Point[]): void {
  const max = Math.max(1, ...points.map((p) => p.value));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const step = plotWidth / Math.max(1, points.length);
  const svg = node('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', class: 'chart-svg' });
  svg.append(node('title', {}, `${caption}: ${points.map((p) => `${p.label} ${p.value}`).join(', ')}`));
  // Horizontal grid at 0, half and max, labelled.
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + plotHeight * (1 - fraction);
    svg.append(node('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: 'chart-grid' }));
    const label = Number.isInteger(max * fraction) ? String(max * fraction) : (max * fraction).toFixed(1);
    svg.append(
      node('text', { x: PAD.left - 4, y: y + 4, 'text-anchor': 'end', class: 'chart-label' }, label),
    );
  }
  points.forEach((point, i) => {
    const height = (point.value / max) * plotHeight;
    const bar = node('rect', {
      x: PAD.left + i * step + step * 0.15,
      y: PAD.top + plotHeight - height,
      width: step * 0.7,
      height,
      class: 'chart-bar',
    });
    bar.append(node('title', {}, `${point.label}: ${point.value}`));
    svg.append(bar);
  });
  const first = points[0];
  const last = points.at(-1);
  if (first && last) {
    svg.append(node('text', { x: PAD.left, y: HEIGHT - 6, class: 'chart-label' }, first.label));
    svg.append(
      node(
        'text',
        { x: WIDTH - PAD.right, y: HEIGHT - 6, 'text-anchor': 'end', class: 'chart-label' },
        last.label,
      ),
    );
  }
  const figcaption = document.createElement('figcaption');
  figcaption.textContent = caption;
  figure.replaceChildren(svg, figcaption);
}
