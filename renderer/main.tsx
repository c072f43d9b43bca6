import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { detectLanguage, setupI18n } from './i18n/index.js';
import { connect } from './transport.js';
import './styles.css';

const connection = connect();
await setupI18n(detectLanguage(navigator.languages));
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App connection={connection} />
    </StrictMode>,
  );
}
