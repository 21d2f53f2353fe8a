int restorer_placeholder;
