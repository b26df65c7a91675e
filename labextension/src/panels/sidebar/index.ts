export { AnalyticsSidebar } from './widget';
