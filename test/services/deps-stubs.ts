import type { OnCall } from '../../src/ports/oncall.js';
import type { Deps } from '../../src/services/deps.js';

/**
 * The Deps parts a service-level test does not exercise, shared by the test harnesses that build
 * Deps by hand. Charts throw (a test that renders one must bring its own); on-call is the "none"
 * provider: paging is unsupported, nobody is on call, follow-ups are not filed anywhere.
 */
export const noCharts: Deps['charts'] = {
  renderTrend: async () => {
    throw new Error('no charts in this test');
  },
};

export const noOnCall: OnCall = {
  name: 'none',
  page: async () => ({ externalId: '', status: 'unsupported' }),
  onCallNow: async () => [],
  createFollowup: async () => ({ backendId: null, url: null }),
  findFollowup: async () => null,
};
