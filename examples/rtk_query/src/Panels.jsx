import { useEffect } from 'react';
import { useDispatch } from 'react-redux';

import CompanyPanel from './CompanyPanel.jsx';
import { sseApi } from './sseApi.js';

export const COMPANIES = [1, 2];

// The companies' panels, side by side. Unmounting them removes every cache
// entry at once: RTK Query would otherwise keep an unused entry (and its
// open stream) for keepUnusedDataFor, 60 s by default.
export default function Panels() {
  const dispatch = useDispatch();
  useEffect(() => () => dispatch(sseApi.util.resetApiState()), [dispatch]);
  return (
    <div className="panels">
      {COMPANIES.map((id) => (
        <CompanyPanel key={id} companyId={id} />
      ))}
    </div>
  );
}
