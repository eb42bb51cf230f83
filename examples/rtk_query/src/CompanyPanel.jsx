import { useGetCompanyMenuUpdatesQuery } from './sseApi.js';

// What the panel shows of the cache entry, in this order.
const FIELDS = ['type', 'courseName', 'courseId', 'companyId', 'lastEventId', 'timeStamp'];

// timeStamp is the event's time in milliseconds since the page loaded.
function show(field, value) {
  if (value === undefined) return '-';
  return field === 'timeStamp' ? `${value.toFixed(1)} ms` : String(value);
}

// One company's last menu update, as the stream left it in the cache.
export default function CompanyPanel({ companyId }) {
  const { data } = useGetCompanyMenuUpdatesQuery(companyId);
  if (!data) return null;
  const stream = data.stream ?? 'connecting';
  return (
    <section className="panel" data-testid={`panel-${companyId}`}>
      <h2>Company {companyId}</h2>
      <p className={`stream ${stream}`} data-testid="stream">
        stream: {stream}
      </p>
      {data.refusal && stream === 'refused' && (
        <p className="refusal" data-testid="refusal">
          {data.refusal}
        </p>
      )}
      <dl>
        {FIELDS.map((field) => (
          <div key={field}>
            <dt>{field}</dt>
            <dd data-testid={field}>{show(field, data[field])}</dd>
          </div>
        ))}
      </dl>
      <ol className="received" data-testid="received">
        {(data.received ?? []).map((e) => (
          <li key={e.id} data-id={e.id} data-company={e.companyId}>
            #{e.id} {e.courseName}
          </li>
        ))}
      </ol>
    </section>
  );
}
