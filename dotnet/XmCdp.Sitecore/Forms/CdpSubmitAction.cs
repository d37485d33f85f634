using System;
using Sitecore.ExperienceForms.Models;
using Sitecore.ExperienceForms.Processing;
using Sitecore.ExperienceForms.Processing.Actions;

namespace XmCdp.Sitecore.Forms
{
    /// <summary>
    /// What the three XmCdp submit actions share: parameters parsed by us (so a bad one is logged with its reason, not
    /// as a parse failure), and a visitor's submission that never fails because of CDP. Each action returns true
    /// unless the host itself is broken: CDP being slow or down, a visitor without tracking (bot, no consent) and a
    /// refused mapping are all logged in the Forms log and the form still succeeds.
    /// </summary>
    public abstract class CdpSubmitAction : SubmitActionBase<string>
    {
        protected CdpSubmitAction(ISubmitActionData submitActionData) : base(submitActionData)
        {
        }

        /// <summary>The action's name in log lines.</summary>
        protected abstract string ActionName { get; }

        protected override bool TryParse(string value, out string target)
        {
            target = value ?? string.Empty;
            return true;
        }

        protected override bool Execute(string data, FormSubmitContext formSubmitContext)
        {
            try
            {
                var fields = new CdpFormFields(formSubmitContext);
                var parameters = CdpFormParameters.Parse(data);
                var cdp = ResolveVisitor();
                Run(parameters, fields, cdp);
            }
            catch (Exception e)
            {
                // Never the submission's problem: log the type only (messages can quote visitor input).
                LogError("failed and was skipped: " + XmCdpLog.Describe(e));
            }
            return true;
        }

        /// <summary>The submission's visitor (null: untracked); see <see cref="CdpFormVisitor"/>.</summary>
        protected virtual CdpContext ResolveVisitor() => CdpFormVisitor.Resolve();

        /// <summary>Does the work; <paramref name="cdp"/> is null for an untracked visitor.</summary>
        protected abstract void Run(CdpFormParameters parameters, CdpFormFields fields, CdpContext cdp);

        /// <summary>Logs why the parameters were refused; true when they were.</summary>
        protected bool Refused(CdpFormParameters parameters)
        {
            if (parameters.Error == null) return false;
            LogError("refused its parameters: " + parameters.Error + ". Nothing was sent to CDP; fix the action in the Forms designer.");
            return true;
        }

        protected bool Untracked(CdpContext cdp)
        {
            if (cdp != null) return false;
            Logger.Info(XmCdpLog.Prefix + ActionName + ": the visitor is not tracked (no consent, bot, or the site is not configured); nothing sent.");
            return true;
        }

        protected void LogError(string message) => Logger.LogError(XmCdpLog.Prefix + ActionName + " " + message);
        protected void LogWarn(string message) => Logger.Warn(XmCdpLog.Prefix + ActionName + " " + message);
    }
}
