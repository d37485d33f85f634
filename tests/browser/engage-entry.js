// The browser global of the Engage SDK, as Sitecore's CDN bundle exposes it: window.Engage.init(settings).
import { init } from '@sitecore/engage';

window.Engage = Object.assign(window.Engage || {}, { init });
