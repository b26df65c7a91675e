/** Icons of the extension. Imports nothing of ours. */
import { LabIcon } from '@jupyterlab/ui-components';

/** A small bar chart; `jp-icon3` makes it follow the theme's icon colour. */
const barChartSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="3" y="20" width="18" height="1.6" rx="0.8"/>
    <rect x="4.5" y="12" width="3.5" height="7" rx="0.6"/>
    <rect x="10.25" y="5" width="3.5" height="14" rx="0.6"/>
    <rect x="16" y="9" width="3.5" height="10" rx="0.6"/>
  </g>
</svg>`;

export const analyticsIcon = new LabIcon({
  name: 'analytics-ext:bar-chart',
  svgstr: barChartSvg
});
