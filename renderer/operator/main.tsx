import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { detectLanguage, setupI18n } from '../i18n/index.js';
import { OperatorApp } from './OperatorApp.js';
import { OperatorApi } from './api.js';
import '../styles.css';
import './operator.css';

await setupI18n(detectLanguage(navigator.languages));
const api = await OperatorApi.open();
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <OperatorApp api={api} />
    </StrictMode>,
  );
}
