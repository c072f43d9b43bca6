/** Content types of the built renderer's files, for both ways it is served: the console's HTTP server and the desktop app's app:// scheme. */
export { staticContentType as rendererContentType } from '../../node/web-console.js';
