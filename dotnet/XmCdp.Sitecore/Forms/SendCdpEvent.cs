using Sitecore.ExperienceForms.Models;
using XmCdp.Events;

namespace XmCdp.Sitecore.Forms
{
    /// <summary>
    /// Submit action "Send CDP event": a custom event (a goal such as NEWSLETTER_SIGNUP) with the mapped form fields
    /// as its data. Parameters: <c>{"eventType":"NEWSLETTER_SIGNUP","fields":{"Topic":"topic"}}</c> (form field name →
    /// event data key; optional). The event is queued, so the submission never waits for CDP.
    /// </summary>
    public class SendCdpEvent : CdpSubmitAction
    {
        public SendCdpEvent(ISubmitActionData submitActionData) : base(submitActionData)
        {
        }

        protected override string ActionName => "Send CDP event";

        protected override void Run(CdpFormParameters parameters, CdpFormFields fields, CdpContext cdp)
        {
            var type = parameters.Text("eventType");
            var mapping = parameters.Mapping("fields", fields, false);
            if (Refused(parameters)) return;
            if (type == null)
            {
                LogError("refused its parameters: 'eventType' is required. Nothing was sent to CDP; fix the action in the Forms designer.");
                return;
            }
            if (Untracked(cdp)) return;

            var e = new CustomEvent(type);
            foreach (var m in mapping)
            {
                var value = fields.Get(m.Key);
                if (value != null) e.Data.Set(m.Value, value);
            }
            var status = cdp.TrackEvent(e);
            if (status != CdpStatus.Ok)
                LogWarn("could not queue event '" + type + "': status " + (int)status + " (" + status + ")"
                    + (status == CdpStatus.InvalidEventType ? ": fix 'eventType' in the Forms designer" : ""));
        }
    }
}
