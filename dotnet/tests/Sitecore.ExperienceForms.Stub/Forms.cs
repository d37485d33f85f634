using System;
using System.Collections.Generic;

// TEST-ONLY stand-in for Sitecore.ExperienceForms (Sitecore Forms, XM 10.x): the types a submit action uses, under
// their real namespaces and signatures. Members a real assembly does not have are marked stub-only.

namespace Sitecore.ExperienceForms.Models
{
    /// <summary>A field of a submitted form. The real field view models (StringInputViewModel, ListViewModel, ...)
    /// live in Sitecore.ExperienceForms.Mvc and expose their value as a <c>Value</c> property of their own type.</summary>
    public interface IViewModel
    {
        string ItemId { get; set; }
        string Name { get; set; }
        string TemplateId { get; set; }
    }

    public interface ISubmitActionData
    {
        Guid SubmitActionId { get; set; }
        string Description { get; set; }
        string Parameters { get; set; }
    }

    // stub-only implementation of the data the Forms designer saves for one submit action.
    public class StubSubmitActionData : ISubmitActionData
    {
        public Guid SubmitActionId { get; set; }
        public string Description { get; set; }
        public string Parameters { get; set; }
    }
}

namespace Sitecore.ExperienceForms.Diagnostics
{
    /// <summary>The Forms log (the real one writes to the Sitecore log with a "[Sitecore Forms]" logger).</summary>
    public interface ILogger
    {
        void Debug(string message);
        void Info(string message);
        void Warn(string message);
        void LogError(string message);
        void LogError(string message, Exception exception, object owner);
    }

    // stub-only: the Forms log of the test host, written into Sitecore.Diagnostics.Log like the real one.
    public class StubFormsLogger : ILogger
    {
        public static readonly StubFormsLogger Instance = new StubFormsLogger();
        private static readonly Type Owner = typeof(StubFormsLogger);

        public void Debug(string message) { }
        public void Info(string message) => Sitecore.Diagnostics.Log.Info("[Forms] " + message, Owner);
        public void Warn(string message) => Sitecore.Diagnostics.Log.Warn("[Forms] " + message, Owner);
        public void LogError(string message) => Sitecore.Diagnostics.Log.Error("[Forms] " + message, Owner);
        public void LogError(string message, Exception exception, object owner) =>
            Sitecore.Diagnostics.Log.Error("[Forms] " + message, exception, owner ?? Owner);
    }
}

namespace Sitecore.ExperienceForms.Processing
{
    using Sitecore.ExperienceForms.Models;

    public class FormActionError
    {
        public Guid SubmitActionId { get; set; }
        public string ErrorMessage { get; set; }
    }

    public class FormSubmitContext
    {
        public FormSubmitContext(string buttonId)
        {
            ButtonId = buttonId;
            Errors = new List<FormActionError>();
            Fields = new List<IViewModel>();
        }

        public string ButtonId { get; }
        public Guid FormId { get; set; }
        public Guid SessionId { get; set; }
        public IList<IViewModel> Fields { get; set; }
        public IList<FormActionError> Errors { get; }
        public bool HasErrors => Errors.Count > 0;
        public bool Canceled { get; private set; }
        public string RedirectUrl { get; set; }

        public void Abort()
        {
            Canceled = true;
        }
    }

    public interface ISubmitAction
    {
        Type ParameterDataType { get; }
        bool Execute(object data, FormSubmitContext formSubmitContext);
    }

    // stub-only: the part of the real ExecuteSubmitActions processor the actions see. Each action gets the JSON
    // parameters the Forms designer saved; an action that returns false (or throws) adds an error, the remaining
    // actions do not run and the visitor sees the form's failure message.
    public static class StubSubmitPipeline
    {
        public static void Run(FormSubmitContext context, IList<KeyValuePair<ISubmitAction, ISubmitActionData>> actions)
        {
            foreach (var a in actions)
            {
                bool ok;
                try
                {
                    ok = a.Key.Execute(a.Value.Parameters, context);
                }
                catch (Exception e)
                {
                    Sitecore.ExperienceForms.Diagnostics.StubFormsLogger.Instance.LogError("submit action failed", e, a.Key);
                    ok = false;
                }
                if (!ok)
                {
                    context.Errors.Add(new FormActionError { SubmitActionId = a.Value.SubmitActionId, ErrorMessage = "Submit action failed." });
                    return;
                }
            }
        }
    }
}

namespace Sitecore.ExperienceForms.Processing.Actions
{
    using Sitecore.ExperienceForms.Diagnostics;
    using Sitecore.ExperienceForms.Models;

    public abstract class SubmitActionBase<TParametersData> : ISubmitAction
    {
        protected SubmitActionBase(ISubmitActionData submitActionData)
        {
            SubmitActionData = submitActionData;
        }

        public ISubmitActionData SubmitActionData { get; }

        public Type ParameterDataType => typeof(TParametersData);

        // The real one resolves ILogger from the service provider.
        protected virtual ILogger Logger => StubFormsLogger.Instance;

        public bool Execute(object data, FormSubmitContext formSubmitContext)
        {
            if (formSubmitContext == null) throw new ArgumentNullException(nameof(formSubmitContext));
            TParametersData target;
            if (!TryParse(data as string, out target))
            {
                Logger.LogError("The submit action parameters could not be parsed: " + GetType().FullName);
                return false;
            }
            return Execute(target, formSubmitContext);
        }

        // The real default deserializes JSON with Newtonsoft; the stand-in has no JSON reader, so subclasses override it.
        protected virtual bool TryParse(string value, out TParametersData target)
        {
            target = default(TParametersData);
            return typeof(TParametersData) == typeof(string) ? (target = (TParametersData)(object)value) != null : false;
        }

        protected abstract bool Execute(TParametersData data, FormSubmitContext formSubmitContext);
    }
}
