export { globMatch, repoMatch } from './glob.js';
